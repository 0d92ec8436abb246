#!/bin/sh
# nixos-fleet install step: converts this host to NixOS with a pinned nixos-infect.
#
# Rendered by constructs/nixos-install.ts: the "@DATA@" line below becomes one
# `name='value'` assignment per setting (each value quoted by shell.ts), and Terraform's
# remote-exec uploads and runs the file. Only the data differs between hosts: the rest
# is written once per stack (a Terraform local). POSIX sh: it runs under Debian's dash.
#
# Every wait is bounded: the download by dl_connect/dl_total, the installer by
# installer_timeout, the reboot's wait for this SSH session by session_wait. On any
# failure the host is left as it was: no reboot is scheduled and sshd keeps running.
#
# Data (all strings):
#   host                 host name, for messages
#   url, want            installer URL and its expected sha256
#   log                  where the installer's full log is kept on the host
#   provider, nix_channel, nixos_import   nixos-infect's PROVIDER, NIX_CHANNEL, NIXOS_IMPORT
#   import_dir           where the NIXOS_IMPORT files go (under /etc/nixos: NixOS's first boot keeps it)
#   import_data          text of import_dir/install.nix (NIXOS_IMPORT), or empty: no import
#   admin_user_module    text of import_dir/admin-user.nix (nix/modules/admin-user.nix)
#   boot_record          where the boot id the install ran in is written, before the reboot (the
#                        ready step requires a different one); under /etc/nixos, which the first boot keeps
#   dl_connect, dl_total, installer_timeout, session_wait, reboot_delay   seconds
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

runs_nixos() { [ -e /run/booted-system ] || [ -e /run/current-system ]; }
what_runs() {
  os=$( (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-${NAME:-}}") )
  echo "${os:-an unknown system (no /etc/os-release)}, kernel $(uname -r)"
}

if [ -e /etc/NIXOS ]; then
  if runs_nixos; then
    say "already runs NixOS ($(nixos-version 2>/dev/null || echo 'version unknown')); not installing again"
    mkdir -p "${boot_record%/*}" && echo no-reboot >"$boot_record"
    exit 0
  fi
  fail "/etc/NIXOS exists (an earlier nixos-infect run) but the host runs $(what_runs), not NixOS:
  the reboot into NixOS did not take. Not installing over it; read $log, then rebuild the
  machine from a fresh image."
fi
command -v timeout >/dev/null 2>&1 || fail "timeout(1) is missing (coreutils); every step of the install is time-limited"
dir=$(mktemp -d) || fail "mktemp failed"
trap 'rm -rf "$dir"' EXIT

say "downloading installer $url (connect timeout ${dl_connect}s, at most ${dl_total}s)"
if command -v curl >/dev/null 2>&1; then
  timeout -k 5 "$dl_total" curl -fsSL --connect-timeout "$dl_connect" --max-time "$dl_total" \
    --retry 5 --retry-delay 3 --retry-max-time "$dl_total" -o "$dir/installer" "$url"
else
  timeout -k 5 "$dl_total" wget -q -T "$dl_connect" -t 5 -O "$dir/installer" "$url"
fi
rc=$?
case $rc in
  0) ;;
  28 | 124 | 137) fail "download of $url did not finish within ${dl_total}s (connect timeout ${dl_connect}s); nothing was run" ;;
  *) fail "could not download $url (exit $rc); nothing was run" ;;
esac
got=$(sha256sum "$dir/installer" | cut -d ' ' -f 1)
if [ "$got" != "$want" ]; then
  fail "installer sha256 mismatch for $url
  expected: $want
  actual:   $got
nothing was run"
fi

# Files for NIXOS_IMPORT: the data file nixos-infect adds to the imports of the installed
# configuration, and the admin user's module it imports.
made_import_dir=
if [ -n "$import_data" ]; then
  [ -d "$import_dir" ] || made_import_dir=1
  mkdir -p "$import_dir" \
    && printf '%s' "$admin_user_module" >"$import_dir/admin-user.nix" \
    && printf '%s' "$import_data" >"$import_dir/install.nix" \
    || fail "cannot write the files for NIXOS_IMPORT into $import_dir"
fi
forget_import_files() { [ -z "$made_import_dir" ] || rm -rf "$import_dir"; }

mkdir -p "$(dirname "$log")" || fail "cannot create the directory of $log"
: >"$log" || fail "cannot write $log"
say "installer sha256 ok; running it with PROVIDER=$provider NIX_CHANNEL=$nix_channel NO_REBOOT=true${nixos_import:+ NIXOS_IMPORT=$nixos_import} (time limit ${installer_timeout}s); full log: $log"
# The installer writes into the log FILE and `tail` streams it to Terraform until the
# installer process is gone: a background process the installer leaves behind, still
# holding its output, cannot keep this step open (a pipe would stay open with it).
# timeout(1) stops the installer and its process group at the limit.
(
  if [ -n "$nixos_import" ]; then
    timeout -k 10 "$installer_timeout" env PROVIDER="$provider" NIX_CHANNEL="$nix_channel" NO_REBOOT=true \
      NIXOS_IMPORT="$nixos_import" bash "$dir/installer" </dev/null >>"$log" 2>&1
  else
    timeout -k 10 "$installer_timeout" env PROVIDER="$provider" NIX_CHANNEL="$nix_channel" NO_REBOOT=true \
      bash "$dir/installer" </dev/null >>"$log" 2>&1
  fi
  echo $? >"$dir/status"
) &
runner=$!
tail -n +1 -s 0.2 -f --pid="$runner" "$log"
wait "$runner"
status=$(cat "$dir/status" 2>/dev/null || echo 1)
case $status in
  0) ;;
  124 | 137)
    forget_import_files
    echo "nixos-fleet[$host]: installer did not finish within ${installer_timeout}s and was stopped; no reboot scheduled; last 40 lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1 ;;
  *)
    forget_import_files
    echo "nixos-fleet[$host]: installer failed (exit $status); last 40 lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1 ;;
esac
[ -e /etc/NIXOS ] || fail "installer exited 0 but /etc/NIXOS is missing; see $log"
# NixOS's first boot moves everything not listed in /etc/NIXOS_LUSTRATE to /old-root:
# keep the log where the README and the ready step say it is.
if [ -f /etc/NIXOS_LUSTRATE ] && ! grep -qxF "${log#/}" /etc/NIXOS_LUSTRATE; then
  echo "${log#/}" >>/etc/NIXOS_LUSTRATE
fi

mkdir -p "${boot_record%/*}" && cat /proc/sys/kernel/random/boot_id >"$boot_record" \
  || fail "cannot record the boot id in $boot_record"

# The SSH session running this script: the nearest sshd ancestor (sshd-session since OpenSSH 9.8).
session=
p=$$
while [ "$p" -gt 1 ] 2>/dev/null; do
  { read -r comm <"/proc/$p/comm"; } 2>/dev/null || break
  case $comm in
    sshd | sshd-session) session=$p; break ;;
  esac
  p=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d ' ' -f 2)
  [ -n "$p" ] || break
done
session_start=
[ -z "$session" ] || session_start=$(sed 's/.*) //' "/proc/$session/stat" | cut -d ' ' -f 20)

# The reboot waits until Terraform has the whole output and the exit status, however
# slow the link: until this script has exited and every byte the session sent has been
# acknowledged by the client (the send queue of the session's TCP connection is empty
# twice in a row), or the session is gone. Waiting for the session itself to end is not
# enough: OpenTofu keeps a provisioner's connection open until the whole apply is done.
# At most session_wait seconds, then reboot_delay more. A file of its own: it runs
# detached, after this script has exited.
rebooter=/run/nixos-fleet-reboot.sh
cat >"$rebooter" <<'EOF' || fail "cannot write $rebooter"
# nixos-fleet: reboot once the install's output and exit status have reached Terraform.
# $1 mark file, $2 session pid (may be empty), $3 its start time, $4 cap, $5 delay,
# $6 the install script's pid, $7 the install log (which says why the reboot went ahead)
trap '' HUP
echo $$ >"$1"
alive() { [ -n "$1" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 20)" = "$2" ]; }
# Bytes the session's TCP sockets have sent that the client has not acknowledged yet
# (/proc/net/tcp: field 5 is tx_queue:rx_queue in hex, field 10 the socket inode).
unacked() {
  total=0
  for fd in /proc/"$1"/fd/*; do
    link=$(readlink "$fd" 2>/dev/null) || continue
    case $link in socket:\[*\]) ;; *) continue ;; esac
    inode=${link#socket:[}; inode=${inode%]}
    queue=$(awk -v inode="$inode" '$10 == inode { split($5, q, ":"); print q[1]; exit }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    [ -n "$queue" ] && total=$((total + 0x$queue))
  done
  echo "$total"
}
delivered() {
  alive "$2" "$3" || return 0
  [ -d "/proc/$6" ] && return 1
  [ "$(unacked "$2")" = 0 ]
}
# Checked every half second; delivered twice in a row, so the instant between the script's
# exit and sshd sending the exit status does not count.
ticks=0 quiet=0
while [ "$ticks" -lt $(($4 * 2)) ]; do
  if delivered "$@"; then quiet=$((quiet + 1)); else quiet=0; fi
  [ "$quiet" -ge 2 ] && break
  sleep 0.5; ticks=$((ticks + 1))
done
if [ "$quiet" -ge 2 ]; then
  echo "nixos-fleet: rebooting: the install's output and exit status reached Terraform (after $((ticks / 2))s)" >>"$7"
else
  echo "nixos-fleet: rebooting: still not delivered after ${4}s (session_wait); rebooting anyway" >>"$7"
fi
sleep "$5"
exec reboot
EOF
mark=/run/nixos-fleet-reboot.started
rm -f "$mark"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --quiet --collect --unit="nixos-fleet-reboot-$$" --description="nixos-fleet: reboot into NixOS" \
    /bin/sh "$rebooter" "$mark" "$session" "$session_start" "$session_wait" "$reboot_delay" "$$" "$log" \
    || fail "could not schedule the reboot"
else
  # No systemd: a job in its own session (no terminal, so no SIGHUP when this SSH session closes).
  setsid /bin/sh "$rebooter" "$mark" "$session" "$session_start" "$session_wait" "$reboot_delay" "$$" "$log" </dev/null >/dev/null 2>&1 &
fi
i=0
while [ ! -s "$mark" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$mark" ] || fail "could not schedule the reboot (the detached job did not start)"

# No new SSH logins to the old system from here on: otherwise the ready step could log in
# before the reboot. systemd's units first; then, whatever started it (sysvinit, runit,
# another unit name, no pid file), every sshd listener process. A listener is an sshd whose
# title is "[listener]" (OpenSSH >= 8.2) or its plain command line; sessions, this one
# included, are titled "sshd: user..." and keep running.
if [ -d /run/systemd/system ]; then
  systemctl stop ssh.socket ssh.service sshd.service >/dev/null 2>&1 || true
fi
listeners=
# `read`, a builtin, not a `cat` per process: a busy machine has thousands of them.
for d in /proc/[0-9]*; do
  { read -r comm <"$d/comm"; } 2>/dev/null || continue
  [ "$comm" = sshd ] || continue
  title=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)
  case $title in
    *"[listener]"*) ;;
    "sshd: "*) continue ;;
  esac
  listeners="$listeners ${d#/proc/}"
done
[ -z "$listeners" ] || kill $listeners 2>/dev/null
if [ -n "$session" ]; then
  when="${reboot_delay}s after this SSH session ends (at most ${session_wait}s from now)"
else
  when="in ${session_wait}s (this SSH session's sshd was not found)"
fi
say "installed; sshd stopped (listener pid(s):${listeners:- none found}); rebooting into NixOS $when"
exit 0
