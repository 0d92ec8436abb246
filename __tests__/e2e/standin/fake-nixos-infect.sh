#!/usr/bin/env bash
# fake-nixos-infect.sh: a stand-in for elitak/nixos-infect, for the nixos-fleet e2e tests.
#
# It behaves like nixos-infect (pinned commit 5ef3f953, see /work/shared/FIELD-NOTES.md) as far as
# Terraform and a later SSH check can tell, without Nix or a network:
#   - reads PROVIDER, NIX_CHANNEL (default nixos-23.05, like the real one), NIXOS_IMPORT, NO_REBOOT,
#     NO_SWAP, NIX_INSTALL_URL from the environment; PROVIDER digitalocean|hetznercloud|servarica
#     turn on the network config (networking.nix), like the real one;
#   - must run as root and needs keys in /root/.ssh/authorized_keys (they go into the config);
#   - prints progress lines, takes INSTALL_SECONDS seconds ("installing Nix", "building the system");
#   - writes /etc/nixos/configuration.nix (skipped if it already exists, like the real one),
#     hardware-configuration.nix (fileSystems."/" from the live root mount, boot.loader.grub.device
#     = first of /dev/vda /dev/sda /dev/xvda /dev/nvme0n1 that exists) and networking.nix (eth0's
#     addresses, default gateway, nameservers from /etc/resolv.conf);
#   - records what it received in /etc/nixos/standin-env, one KEY=value line each (PROVIDER=...,
#     NIX_CHANNEL=..., NO_REBOOT=..., NIXOS_IMPORT=..., NO_SWAP=..., plus STANDIN_RUN=<n> counting runs);
#   - "builds" the system its configuration describes into /boot/standin-nixos/system (the host's
#     per-host /boot, see supervisor.sh): accounts (the live system accounts, uid < 1000, stand for
#     NixOS's own; of the normal users only those a module declares), root's authorized keys (the
#     ones collected above), the users, groups, keys and sudo rule that the NIXOS_IMPORT module tree
#     declares (evaluated for real with nix-instantiate, see USERS_NIX), sshd_config with NixOS's
#     AuthorizedKeysFile, os-release and nixos-version; then makes it the boot entry
#     (/boot/standin-nixos/default), so the next boot is NixOS;
#   - writes /etc/NIXOS_LUSTRATE and creates /etc/NIXOS;
#   - ends with `reboot` unless NO_REBOOT is set (on a stand-in host that reboot kills the session,
#     so Terraform sees "remote command exited without exit status", as with the real one).
#
# Knobs: the test rewrites these lines before publishing (fakeInfectScript() in standin.ts does it):
INSTALL_SECONDS=0
FAIL_EXIT_CODE=0
# OUTPUT_KB: print about this many KiB of build output (like a real install's log)
OUTPUT_KB=0
# BOOT_ENTRY=0: build the system but leave the boot loader on the old system (a known nixos-infect
# failure: the host reboots back into Debian with /etc/NIXOS present)
BOOT_ENTRY=1
# HANG=1: after the checks, hang (a stalled download or build); HANG=2: the same, after starting a
# process in a session of its own that keeps the installer's stdout and stderr open for an hour
HANG=0
# USERS_NIX: text of standin/nixos-module-users.nix (fakeInfectScript() fills it in)
USERS_NIX=''
# FAIL_EXIT_CODE non-zero: after the first progress lines (before anything is written to /etc) the
# script prints "error: ..." to stderr and exits with that code. For a failure at another place,
# replace one of the lines ": standin-fail-point <name>" below with e.g. `echo boom >&2; exit 3`
# (names: after-checks, after-config, before-reboot).

set -e -o pipefail

say() { echo "nixos-infect(standin): $*"; }

say "starting on $(hostname) ($(uname -m)), PROVIDER=${PROVIDER-<unset>} NIX_CHANNEL=${NIX_CHANNEL-<unset>}"
[[ "$(whoami)" == root ]] || { echo "ERROR: Must run as root"; exit 1; }
for tool in curl ip awk cut df; do
  command -v "$tool" >/dev/null || { echo "ERROR: Missing $tool"; exit 1; }
done

doNetConf=
case "${PROVIDER-}" in
  digitalocean | hetznercloud | servarica) doNetConf=y ;;
esac
[[ -z "${NIX_CHANNEL-}" ]] && NIX_CHANNEL_USED=nixos-23.05 || NIX_CHANNEL_USED=$NIX_CHANNEL

keys=
for trypath in /root/.ssh/authorized_keys "${HOME:-/root}/.ssh/authorized_keys"; do
  [[ -r "$trypath" ]] && keys=$(grep -E '^(sk-ssh|sk-ecdsa|ssh|ecdsa)-' "$trypath" || true)
  [[ -n "$keys" ]] && break
done
[[ -n "$keys" ]] || { echo "ERROR: no SSH keys in /root/.ssh/authorized_keys, refusing to lock you out"; exit 1; }
: standin-fail-point after-checks

if [[ "$HANG" != 0 ]]; then
  if [[ "$HANG" == 2 ]]; then
    setsid sleep 3600 &
    say "started a background process (pid $!) that holds this output"
  fi
  say "downloading Nix ... (stand-in: hanging, HANG=$HANG)"
  sleep infinity
fi

if [[ "$FAIL_EXIT_CODE" != 0 ]]; then
  echo "error: stand-in installer told to fail (FAIL_EXIT_CODE=$FAIL_EXIT_CODE)" >&2
  exit "$FAIL_EXIT_CODE"
fi

for grubdev in /dev/vda /dev/sda /dev/xvda /dev/nvme0n1; do [[ -e $grubdev ]] && break; done
rootfsdev=$(findmnt -n -o SOURCE / || echo /dev/vda1)
rootfstype=$(findmnt -n -o FSTYPE / || echo ext4)

if [[ -z "${NO_SWAP-}" ]]; then say "would create a 1 GiB swap file (skipped on a stand-in host)"; fi

mkdir -p /etc/nixos
run=$(( $(grep -c '^STANDIN_RUN=' /etc/nixos/standin-env 2>/dev/null || true) + 1 ))
{
  echo "STANDIN_RUN=$run"
  echo "PROVIDER=${PROVIDER-}"
  echo "NIX_CHANNEL=${NIX_CHANNEL-}"
  echo "NO_REBOOT=${NO_REBOOT-}"
  echo "NIXOS_IMPORT=${NIXOS_IMPORT-}"
  echo "NO_SWAP=${NO_SWAP-}"
  echo "NIX_INSTALL_URL=${NIX_INSTALL_URL-}"
} >>/etc/nixos/standin-env

if [[ -e /etc/nixos/configuration.nix ]]; then
  say "/etc/nixos/configuration.nix exists, keeping it"
else
  network_import=
  [[ -n "$doNetConf" ]] && network_import="./networking.nix # generated at runtime by nixos-infect"
  {
    echo "{ ... }: {"
    echo "  imports = ["
    echo "    ./hardware-configuration.nix"
    echo "    $network_import"
    echo "    ${NIXOS_IMPORT-}"
    echo "  ];"
    echo ""
    echo "  boot.tmp.cleanOnBoot = true;"
    echo "  zramSwap.enable = true;"
    echo "  networking.hostName = \"$(hostname -s)\";"
    echo "  networking.domain = \"$(hostname -d 2>/dev/null || true)\";"
    echo "  services.openssh.enable = true;"
    echo -n "  users.users.root.openssh.authorizedKeys.keys = ["
    while read -r line; do echo -n " ''$line''"; done <<<"$keys"
    echo " ];"
    echo "  system.stateVersion = \"23.11\";"
    echo "}"
  } >/etc/nixos/configuration.nix
  cat >/etc/nixos/hardware-configuration.nix <<EOF
{ modulesPath, ... }:
{
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];
  boot.loader.grub.device = "$grubdev";
  boot.initrd.availableKernelModules = [ "ata_piix" "uhci_hcd" "xen_blkfront" "vmw_pvscsi" ];
  boot.initrd.kernelModules = [ "nvme" ];
  fileSystems."/" = { device = "$rootfsdev"; fsType = "$rootfstype"; };
}
EOF
  if [[ -n "$doNetConf" ]]; then
    ip4s=$(ip -4 -o address show dev eth0 | awk '{split($4, a, "/"); printf "{ address=\"%s\"; prefixLength=%s; } ", a[1], a[2]}')
    gateway=$(ip -4 route show default | awk '{print $3; exit}')
    ether0=$(cat /sys/class/net/eth0/address 2>/dev/null || true)
    nameservers=$(awk '/^nameserver/ {printf "\"%s\" ", $2}' /etc/resolv.conf)
    cat >/etc/nixos/networking.nix <<EOF
{ lib, ... }: {
  # This file was populated at runtime with the networking
  # details gathered from the active system.
  networking = {
    nameservers = [ $nameservers];
    defaultGateway = "$gateway";
    dhcpcd.enable = false;
    usePredictableInterfaceNames = lib.mkForce false;
    interfaces.eth0.ipv4.addresses = [ $ip4s];
    interfaces.eth0.ipv4.routes = [ { address = "$gateway"; prefixLength = 32; } ];
  };
  services.udev.extraRules = ''
    ATTR{address}=="$ether0", NAME="eth0"
  '';
}
EOF
  fi
fi
: standin-fail-point after-config

say "installing Nix from ${NIX_INSTALL_URL:-https://nixos.org/nix/install} (stand-in: nothing is downloaded)"
say "nix-channel --add https://nixos.org/channels/$NIX_CHANNEL_USED nixos"
for ((i = 1; i <= INSTALL_SECONDS; i++)); do
  sleep 1
  say "building the system ... ${i}s"
done

if ((OUTPUT_KB > 0)); then
  line=$(printf 'building the system: %0100d' 0)
  for ((i = 0; i < OUTPUT_KB * 1024 / 123; i++)); do echo "nixos-infect(standin): $line $i"; done
fi

# "Build" the system: what the installed configuration declares, as the files activation installs.
sys=/boot/standin-nixos/system.new
rm -rf "$sys" && mkdir -p "$sys/etc/ssh/authorized_keys.d" "$sys/sw/bin"
version="${NIX_CHANNEL_USED#nixos-}.19700101.5ef3f95 (Stand-in)"
echo "$version" >"$sys/nixos-version"
printf '#!/bin/sh\necho %q\n' "$version" >"$sys/sw/bin/nixos-version" && chmod 0755 "$sys/sw/bin/nixos-version"
printf 'NAME=NixOS\nID=nixos\nVERSION_ID="%s"\nPRETTY_NAME="NixOS %s (Stand-in)"\n' \
  "${NIX_CHANNEL_USED#nixos-}" "${NIX_CHANNEL_USED#nixos-}" >"$sys/etc/os-release"
printf '%s\n' "$keys" >"$sys/etc/ssh/authorized_keys.d/root"
declared='{"users":{},"wheelNeedsPassword":true,"trustedUsers":[]}'
if [[ -n "${NIXOS_IMPORT-}" ]]; then
  [[ -n "$USERS_NIX" ]] || { echo "ERROR: stand-in: USERS_NIX is empty (publish this file with fakeInfectScript())"; exit 1; }
  for tool in nix-instantiate jq; do command -v "$tool" >/dev/null || { echo "ERROR: stand-in needs $tool to read NIXOS_IMPORT"; exit 1; }; done
  import=$NIXOS_IMPORT
  [[ $import == /* ]] || import=/etc/nixos/${import#./}
  printf '%s\n' "$USERS_NIX" >"$sys/users.nix"
  declared=$(nix-instantiate --eval --strict --json --readonly-mode "$sys/users.nix" --arg file "$import" 2>"$sys/users.err") \
    || { echo "ERROR: evaluating NIXOS_IMPORT $NIXOS_IMPORT failed:"; cat "$sys/users.err"; exit 1; }
fi
echo "$declared" >"$sys/declared.json"
awk -F: '$3 < 1000 || $3 == 65534' /etc/passwd >"$sys/etc/passwd"
awk -F: '$3 < 1000 || $3 == 65534' /etc/group | grep -v '^wheel:' >"$sys/etc/group"
awk -F: 'NR == FNR { keep[$1] = 1; next } keep[$1]' "$sys/etc/passwd" /etc/shadow >"$sys/etc/shadow"
uid=1000
members=
while IFS=$'\t' read -r name groups; do
  [[ -n $name ]] || continue
  # UsePAM is off on stand-in hosts: sshd refuses a locked ("!") account there, so "*" (NixOS uses
  # PAM, which lets a key log in to a user without password either way)
  echo "$name:x:$uid:100::/home/$name:/bin/bash" >>"$sys/etc/passwd"
  echo "$name:*:1::::::" >>"$sys/etc/shadow"
  jq -r --arg u "$name" '.users[$u].keys[]' <<<"$declared" >"$sys/etc/ssh/authorized_keys.d/$name"
  [[ " $groups " == *" wheel "* ]] && members=${members:+$members,}$name
  uid=$((uid + 1))
done < <(jq -r '.users | to_entries[] | select(.value.isNormalUser) | [.key, (.value.groups | join(" "))] | @tsv' <<<"$declared")
wheel_gid=999 # NixOS's wheel is gid 1, which Debian's daemon group has: take a free one
while cut -d: -f3 "$sys/etc/group" | grep -qx "$wheel_gid"; do wheel_gid=$((wheel_gid - 1)); done
echo "wheel:x:$wheel_gid:$members" >>"$sys/etc/group"
host_name=$(hostname -s)
echo "$host_name" >"$sys/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost\n127.0.0.2 %s\n' "$host_name" >"$sys/etc/hosts"
chmod 0640 "$sys/etc/shadow" && chgrp shadow "$sys/etc/shadow" 2>/dev/null || true
nopasswd=
[[ $(jq -r .wheelNeedsPassword <<<"$declared") == false ]] && nopasswd='NOPASSWD:'
printf 'root ALL=(ALL:ALL) SETENV: ALL\n%%wheel ALL=(ALL:ALL) %sSETENV: ALL\n' "$nopasswd" >"$sys/etc/sudoers"
chmod 0440 "$sys/etc/sudoers"
mkdir -p "$sys/etc/nix"
echo "trusted-users = root $(jq -r '.trustedUsers | join(" ")' <<<"$declared")" >"$sys/etc/nix/nix.conf"
sed 's|^AuthorizedKeysFile .*|AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys.d/%u|' \
  /etc/ssh/sshd_config >"$sys/etc/ssh/sshd_config"
chmod 0444 "$sys/etc/ssh/authorized_keys.d/"*
touch "$sys/etc/NIXOS"
rm -rf /boot/standin-nixos/system && mv "$sys" /boot/standin-nixos/system
if [[ "$BOOT_ENTRY" == 1 ]]; then
  echo system >/boot/standin-nixos/default
  say "installed the boot loader entry for NixOS"
else
  rm -f /boot/standin-nixos/default
  say "stand-in: NOT switching the boot loader (BOOT_ENTRY=0): the next boot is the old system"
fi

touch /etc/NIXOS
{
  echo etc/nixos
  echo etc/resolv.conf
  echo root/.nix-defexpr/channels
  (cd / && ls etc/ssh/ssh_host_*_key* 2>/dev/null || true)
} >>/etc/NIXOS_LUSTRATE
say "switch-to-configuration boot done; NixOS will take over at the next boot"
: standin-fail-point before-reboot

if [[ -z "${NO_REBOOT-}" ]]; then
  say "rebooting"
  reboot
fi
say "NO_REBOOT set, not rebooting"
