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
#      /run      a fresh tmpfs, replaced by a new one at every reboot
#      power commands: the real files behind reboot/shutdown/halt/poweroff/systemctl/systemd-run are
#      bind-mounted over by the per-host copy of power.sh
# 2. boot: `unshare --pid --fork --mount-proc bash supervisor.sh boot-init` = a new PID namespace whose
#    PID 1 (boot-init below) starts sshd. Every process of that boot (sshd, sessions, detached jobs,
#    `standin exec` commands) lives in that PID namespace.
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
#   SH_REBOOT_DELAY_MS SH_PARENT_PID
set -u
SELF=${BASH_SOURCE[0]}

if [[ ${1:-} == boot-init ]]; then
  # PID 1 of one boot of the host (in a fresh PID namespace with its own /proc).
  mkdir -p -m 0755 /run/sshd
  mkdir -p -m 1777 /run/lock
  cat /proc/sys/kernel/random/uuid > /run/standin-boot-id
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

boot() {
  local n i
  n=$(($(<"$ctl/boot-count") + 1))
  echo "$n" > "$ctl/boot-count"
  echo booting > "$ctl/state"
  unshare --pid --fork --mount-proc --kill-child -- /bin/bash "$SELF" boot-init &
  boot_pid=$!
  for ((i = 0; i < 1000; i++)); do
    init_pid=$(pgrep -P "$boot_pid") && [[ -n $init_pid ]] && break
    init_pid=
    read -r -t 0.005 -u 3 _
  done
  [[ -n $init_pid ]] || fail "the boot's PID 1 did not appear"
  echo "$init_pid" > "$ctl/init.pid"
  echo up > "$ctl/state"
  say "boot $n: PID 1 of the host is pid $init_pid"
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
