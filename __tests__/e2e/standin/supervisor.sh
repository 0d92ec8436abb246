#!/bin/bash
# Supervisor of ONE nixos-fleet stand-in host. Read standin.ts first; this is its helper.
#
# standin.ts copies this file into the fleet's state dir and starts it as
#
#   ip netns exec <netns> unshare --mount --uts --propagation private -- bash supervisor.sh supervise
#
# so it runs in the host's network namespace and in a mount + UTS namespace that only this host
# uses (mounts made here never show up in the real machine's `mount`, and they disappear by
# themselves once every process of the host has exited).
#
# 1. setup: network inside the netns (eth0 address, lo, default route, IPv6 off), hostname, and the
#    host's file system view:
#      /etc      overlayfs, lower = real /etc, upper/work = per-host dirs (etcUpper = what the host wrote)
#      /root     bind mount of a per-host dir (.ssh/authorized_keys with the test's client key)
#      /var/log  bind mount of a per-host dir (logDir; survives reboots, like a disk)
#      /tmp      bind mount of a per-host dir (survives reboots, like Debian 12's disk-backed /tmp)
#      /home     bind mount of a per-host dir (the host's users' homes)
#      /boot     bind mount of a per-host dir: the "boot loader". fake-nixos-infect.sh puts the NixOS
#                system it "built" in /boot/standin-nixos/system and, unless told to model a failed
#                boot loader change, the entry /boot/standin-nixos/default that makes boots NixOS
#      /run      a fresh tmpfs, replaced by a new one at every reboot
#      power commands: the real files behind reboot/shutdown/halt/poweroff/systemctl/systemd-run are
#      bind-mounted over by the per-host copy of power.sh
# 2. boot: `unshare --pid --fork --mount-proc bash supervisor.sh boot-init MODE` = a new PID namespace
#    whose PID 1 (boot-init below) starts sshd. Every process of that boot (sshd, sessions, detached
#    jobs, `standin exec` commands) lives in that PID namespace. Each boot has its own
#    /proc/sys/kernel/random/boot_id (a file bind-mounted over it).
#    MODE is debian, or nixos when /boot/standin-nixos/default exists. A NixOS boot first does what
#    NixOS's first boot does when /etc/NIXOS_LUSTRATE exists ("lustrate", below): everything of the
#    old system moves to SH_OLD_ROOT (the host's /old-root; not mounted inside the host) except the
#    paths NIXOS_LUSTRATE lists; then "activation" installs the system's /etc files (accounts, sudo,
#    sshd_config, authorized_keys.d: only what the configuration declared) and /run/current-system
#    and /run/booted-system point at the system. Stand-in limits: of the old system, /etc (what the
#    host changed, plus its account and sudo files), /root, /home and /var/log move (/tmp and the
#    real machine's files the host shares do not); sshd.log stays (it is the harness's log of every
#    boot).
# 3. loop: reboot request -> SIGKILL the boot's PID 1 (the kernel then kills every process of that
#    PID namespace), new tmpfs on /run, reboot-count+1, stay down for SH_REBOOT_DELAY_MS, boot again.
#    If sshd's master process exits on its own, nothing restarts it: sshd stays down until a reboot,
#    like on a real machine where someone stopped sshd.
#    stop request, SIGTERM or death of the node process that started us -> kill the boot, exit.
#
# Control dir $SH_CTL (outside the overlay; power.sh writes requests there, standin.ts reads state):
#   reboot-request   a reboot is wanted (created by power.sh or standin.ts)
#   stop             power off for good and exit (created by standin.ts)
#   fifo             wake-up channel: writing a line there makes the supervisor look immediately
#   state            booting | up | rebooting | stopped | failed: ...
#   init.pid         pid (as seen from the real machine) of the current boot's PID 1
#   boot-count, reboot-count, reboot-requests.log (written by power.sh)
#
# Environment (set by standin.ts): SH_HOSTNAME SH_ADDRESS SH_PREFIXLEN SH_GATEWAY SH_CTL SH_ETC_UPPER
#   SH_ETC_WORK SH_ROOT_DIR SH_LOG_DIR SH_TMP_DIR SH_POWER_SCRIPT SH_POWER_TARGETS (colon separated)
#   SH_REBOOT_DELAY_MS SH_PARENT_PID; optional (each skipped when unset): SH_HOME_DIR SH_BOOT_DIR
#   SH_OLD_ROOT
set -u
SELF=${BASH_SOURCE[0]}

if [[ ${1:-} == boot-init ]]; then
  # PID 1 of one boot of the host (in a fresh PID namespace with its own /proc and mount namespace).
  mkdir -p -m 0755 /run/sshd
  mkdir -p -m 1777 /run/lock
  cat /proc/sys/kernel/random/uuid > /run/standin-boot-id
  # the kernel's boot_id is the real machine's; each stand-in boot gets its own
  mount --bind /run/standin-boot-id /proc/sys/kernel/random/boot_id
  if [[ ${2:-} == nixos ]]; then
    ln -s /boot/standin-nixos/system /run/current-system
    ln -s /boot/standin-nixos/system /run/booted-system
  fi
  /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config </dev/null >>/var/log/sshd.log 2>&1 &
  # PID 1 never exits on its own; bash reaps every child (also orphans reparented to it).
  while :; do
    sleep 3600 &
    wait $!
  done
fi

[[ ${1:-} == supervise ]] || { echo "usage: $0 supervise|boot-init" >&2; exit 2; }

ctl=$SH_CTL
say() { printf '%(%H:%M:%S)T supervisor %s: %s\n' -1 "$SH_HOSTNAME" "$*"; }
fail() {
  say "FATAL: $*"
  echo "failed: $*" > "$ctl/state"
  halt_boot
  exit 1
}

boot_pid=
init_pid=
halt_boot() {
  # Kill the current boot: SIGKILL to its PID 1 makes the kernel kill every process of the
  # boot's PID namespace; `wait` returns once all of them are gone.
  [[ -n $boot_pid ]] || return 0
  [[ -n $init_pid ]] && kill -KILL "$init_pid" 2>/dev/null
  kill -KILL "$boot_pid" 2>/dev/null # only matters if init_pid was never found
  wait "$boot_pid" 2>/dev/null
  boot_pid=
  init_pid=
  rm -f "$ctl/init.pid"
}

nap_ms() {
  # Sleep without forking (read with timeout on our fifo); returns 1 early if a stop is requested.
  local end=$((${EPOCHREALTIME/./} + $1 * 1000))
  while ((${EPOCHREALTIME/./} < end)); do
    [[ -e $ctl/stop ]] && return 1
    read -r -t 0.05 -u 3 _
  done
  return 0
}

mount_run() {
  mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m standin-run /run || fail "mount tmpfs on /run"
}

setup() {
  hostname "$SH_HOSTNAME" || fail "hostname"
  for f in all default lo eth0; do echo 1 > "/proc/sys/net/ipv6/conf/$f/disable_ipv6"; done 2>/dev/null
  ip -batch - <<EOF || fail "network setup"
link set lo up
addr add $SH_ADDRESS/$SH_PREFIXLEN dev eth0
link set eth0 up
route add default via $SH_GATEWAY dev eth0
EOF
  # Hide the real machine's SSH host keys (overlayfs whiteouts); the host has its own.
  local f b
  for f in /etc/ssh/ssh_host_*; do
    b=${f##*/}
    [[ -e $SH_ETC_UPPER/ssh/$b || -L $SH_ETC_UPPER/ssh/$b ]] || mknod "$SH_ETC_UPPER/ssh/$b" c 0 0
  done
  mount -t overlay standin-etc -o "lowerdir=/etc,upperdir=$SH_ETC_UPPER,workdir=$SH_ETC_WORK" /etc \
    || fail "overlay on /etc"
  mount --bind "$SH_ROOT_DIR" /root || fail "bind /root"
  mount --bind "$SH_LOG_DIR" /var/log || fail "bind /var/log"
  mount --bind "$SH_TMP_DIR" /tmp || fail "bind /tmp"
  if [[ -n ${SH_HOME_DIR:-} ]]; then mount --bind "$SH_HOME_DIR" /home || fail "bind /home"; fi
  if [[ -n ${SH_BOOT_DIR:-} ]]; then mount --bind "$SH_BOOT_DIR" /boot || fail "bind /boot"; fi
  local t targets
  IFS=: read -r -a targets <<<"$SH_POWER_TARGETS"
  for t in "${targets[@]}"; do
    [[ -n $t ]] || continue
    mount --bind "$SH_POWER_SCRIPT" "$t" || fail "bind power script over $t"
  done
  # Drop the real machine's mounts under /run from this namespace (among them /run/netns/*: our
  # copies would keep every network namespace that exists now alive until this host is gone).
  local m
  findmnt -rn -o TARGET | grep '^/run/' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  mount_run
}

lustrate() {
  # NixOS's first boot: move the old system to /old-root, bring back what NIXOS_LUSTRATE lists.
  local old=$SH_OLD_ROOT e b p keep=()
  say "first NixOS boot: moving the old system to /old-root"
  mapfile -t keep < <(grep -v '^[[:space:]]*$' /etc/NIXOS_LUSTRATE)
  rm -rf "$old"
  mkdir -p "$old/etc" "$old/root" "$old/home" "$old/var/log"
  # /etc: what the host wrote (the overlay's upper dir), removed through the overlay so that the
  # real /etc's copy disappears too (whiteout); account and sudo files are the old system's too
  for p in passwd group shadow gshadow sudoers sudoers.d; do
    [[ -e /etc/$p ]] && { cp -a "/etc/$p" "$old/etc/" && rm -rf "/etc/$p"; }
  done
  for e in "$SH_ETC_UPPER"/* "$SH_ETC_UPPER"/.[!.]*; do
    [[ -e $e || -L $e ]] || continue
    [[ -c $e ]] && continue # a whiteout
    b=${e##*/}
    cp -a "/etc/$b" "$old/etc/" && rm -rf "/etc/$b"
  done
  shopt -s dotglob nullglob
  for e in /root/* /home/*; do mv "$e" "$old${e%/*}/"; done
  for e in /var/log/*; do [[ ${e##*/} == sshd.log ]] || mv "$e" "$old/var/log/"; done
  shopt -u dotglob nullglob
  for p in "${keep[@]}"; do
    p=${p#/}
    [[ -e $old/$p || -L $old/$p ]] || continue
    case $p in
      etc/* | root/* | home/* | var/log/*) mkdir -p "/${p%/*}" && cp -a "$old/$p" "/$p" ;;
    esac
  done
  rm -f /etc/NIXOS_LUSTRATE
}

activate() {
  # What NixOS's activation does with the parts the stand-in models: the system's /etc files
  # replace the host's (accounts, sudo, sshd), declared normal users get their home.
  local sys=/boot/standin-nixos/system name uid gid home
  rm -rf /etc/ssh/authorized_keys.d
  # --remove-destination: a file of the real /etc may be a symlink out of the overlay (Debian's
  # /etc/os-release -> ../usr/lib/os-release): replace the link, never write through it
  cp -a --remove-destination "$sys/etc/." /etc/ || fail "activation: copy $sys/etc"
  while IFS=: read -r name _ uid gid _ home _; do
    if ((uid >= 1000 && uid < 65534)) && [[ $home == /home/* && ! -d $home ]]; then
      mkdir -p -m 0700 "$home" && chown "$uid:$gid" "$home"
    fi
  done </etc/passwd
  # (systemd-tmpfiles' part: sshd writes lastlog and wtmp when they exist, and complains if not)
  touch /var/log/lastlog /var/log/wtmp /var/log/btmp && chmod 0600 /var/log/btmp
}

boot() {
  local n i mode=debian
  n=$(($(<"$ctl/boot-count") + 1))
  echo "$n" > "$ctl/boot-count"
  echo booting > "$ctl/state"
  if [[ -n ${SH_BOOT_DIR:-} && -e /boot/standin-nixos/default && -d /boot/standin-nixos/system ]]; then
    mode=nixos
    if [[ -e /etc/NIXOS_LUSTRATE && -n ${SH_OLD_ROOT:-} ]]; then lustrate; fi
    activate
  fi
  echo "$mode" > "$ctl/boot-mode"
  unshare --pid --fork --mount-proc --kill-child -- /bin/bash "$SELF" boot-init "$mode" &
  boot_pid=$!
  for ((i = 0; i < 1000; i++)); do
    init_pid=$(pgrep -P "$boot_pid") && [[ -n $init_pid ]] && break
    init_pid=
    read -r -t 0.005 -u 3 _
  done
  [[ -n $init_pid ]] || fail "the boot's PID 1 did not appear"
  echo "$init_pid" > "$ctl/init.pid"
  echo up > "$ctl/state"
  say "boot $n ($mode): PID 1 of the host is pid $init_pid"
}

reboot_host() {
  say "reboot requested"
  # StandinOptions.rebootCommandReturns: the reboot command returns 0 at once, and (like systemd
  # stopping units) it takes a moment before the sessions are killed
  if [[ -e $ctl/reboot-returns ]]; then nap_ms 500 || return 0; fi
  echo rebooting > "$ctl/state"
  halt_boot
  umount /run 2>/dev/null || umount -l /run || fail "umount /run"
  mount_run
  echo $(($(<"$ctl/reboot-count") + 1)) > "$ctl/reboot-count"
  nap_ms "$SH_REBOOT_DELAY_MS" || return 0
  boot
}

power_off() {
  say "$1"
  halt_boot
  echo stopped > "$ctl/state"
  exit 0
}

trap 'power_off "SIGTERM"' TERM
trap 'power_off "SIGINT"' INT
trap 'power_off "SIGHUP"' HUP

[[ -p $ctl/fifo ]] || mkfifo -m 0600 "$ctl/fifo" || fail "mkfifo"
exec 3<>"$ctl/fifo" || fail "open fifo"
echo 0 > "$ctl/boot-count"
echo 0 > "$ctl/reboot-count"
echo "$BASHPID" > "$ctl/supervisor.pid"
setup
boot
while :; do
  kill -0 "$SH_PARENT_PID" 2>/dev/null || power_off "parent process $SH_PARENT_PID is gone"
  [[ -e $ctl/stop ]] && power_off "stop requested"
  if [[ -e $ctl/reboot-request ]]; then
    rm -f "$ctl/reboot-request"
    reboot_host
    continue
  fi
  read -r -t 0.1 -u 3 _
done
