#!/bin/sh
# nixos-fleet ready step: runs once SSH answers again after the install's reboot, and
# proves the host came back as NixOS: a different boot than the one the install ran in
# (so not the old system in the seconds before its reboot) AND a running NixOS system.
# /etc/NIXOS alone proves nothing: nixos-infect writes it before the reboot.
#
# Rendered by constructs/nixos-install.ts ("@DATA@" becomes quoted assignments of
# `host`, `log` and `boot_record`, the install's record of its boot; the rest is written
# once per stack); runs as root or through `sudo -n`, so it also proves that the login
# user can still escalate. POSIX sh.
# @DATA@
set -u
say() { echo "nixos-fleet[$host]: $*"; }
fail() { echo "nixos-fleet[$host]: $*" >&2; exit 1; }
# remote-exec runs this file as the login user. Anyone but root runs the same file ($0,
# the copy remote-exec uploaded) again as root through sudo, without a password prompt.
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "logged in as $(id -un 2>/dev/null || id -u), not root, and sudo is missing"
  exec sudo -n /bin/sh "$0"
fi

what_runs() {
  os=$( (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-${NAME:-}}") )
  echo "${os:-an unknown system (no /etc/os-release)}, kernel $(uname -r)"
}

now=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) || fail "cannot read /proc/sys/kernel/random/boot_id"
before=$(cat "$boot_record" 2>/dev/null) \
  || fail "answered SSH but $boot_record is missing: the install step did not finish on this machine, or
  this is another machine at the same address (it runs $(what_runs))"
if [ "$before" = "$now" ]; then
  fail "answered SSH before rebooting (still boot $now): the old system's sshd was not stopped.
  The host runs $(what_runs); the scheduled reboot may still come: run the deploy again later"
fi

if [ -e /run/booted-system ] || [ -e /run/current-system ]; then
  version=$(nixos-version 2>/dev/null || /run/current-system/sw/bin/nixos-version 2>/dev/null) \
    || fail "has /run/current-system but nixos-version does not run; it runs $(what_runs)"
else
  fail "came back after the reboot but runs $(what_runs), not NixOS: the machine booted its old
  system (nixos-infect's boot loader change did not take). Its log is $log; rebuild the machine
  from a fresh image (or fix its boot loader) and deploy again"
fi
if [ "$before" = no-reboot ]; then
  say "NixOS is up: $version (already installed, no reboot)"
else
  say "NixOS is up: $version (new boot $now)"
fi
