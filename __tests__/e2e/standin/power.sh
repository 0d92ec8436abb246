#!/bin/bash
# Power commands of a nixos-fleet stand-in host (see standin.ts and supervisor.sh).
#
# standin.ts writes one copy per host with @STANDIN_CTL@ filled in, and supervisor.sh bind-mounts that
# copy over the REAL files behind reboot, shutdown, halt, poweroff, systemctl and systemd-run inside the
# host. On Debian 12 /usr/sbin/{reboot,shutdown,halt,poweroff} are symlinks to /bin/systemctl (and /sbin
# is /usr/sbin), so the bind mount lands on /usr/bin/systemctl and this script, like systemctl
# itself, dispatches on the name it was called by ($0).
#
#   reboot | shutdown -r now|+0 | systemctl reboot
#       ask the supervisor for a reboot, then wait to be killed by it (a real reboot does not let the
#       caller run on; this is what makes "remote command exited without exit status" reproducible).
#       If the control dir holds a file "reboot-returns" (StandinOptions.rebootCommandReturns), the
#       command returns 0 right after asking instead, and the supervisor kills the boot 0.5 s later.
#   shutdown -r +N      reboot in N minutes (detached job in the host); shutdown -c cancels it
#   systemd-run [--on-active=T] CMD...
#       runs CMD detached (after T: 2, 2s, 500ms, 1min, 1h), output to /var/log/standin-systemd-run.log.
#       --scope/--pty/--pipe/--wait run it in the foreground. So `systemd-run --on-active=2 systemctl
#       reboot` works like on a real machine.
#   systemctl is-system-running -> "running"; other systemctl verbs, halt, poweroff: not emulated (exit 1).
STANDIN_CTL='@STANDIN_CTL@'
me=${0##*/}

request_reboot() {
  printf '%(%F %T)T %s\n' -1 "$me${*:+ $*}" >>"$STANDIN_CTL/reboot-requests.log"
  : >"$STANDIN_CTL/reboot-request"
  # O_RDWR open of a fifo never blocks; the line wakes the supervisor up at once.
  { exec 9<>"$STANDIN_CTL/fifo" && echo reboot >&9; } 2>/dev/null
}

reboot_now() {
  request_reboot "$@"
  [[ -e $STANDIN_CTL/reboot-returns ]] && exit 0
  sleep 30
  echo "$me: stand-in supervisor did not reboot this host within 30 s" >&2
  exit 1
}

not_emulated() {
  echo "$me: '$*' is not emulated on a stand-in host" >&2
  exit 1
}

seconds_of() { # systemd time span -> seconds (may be fractional); empty on error
  local v=$1
  if [[ $v =~ ^([0-9]+(\.[0-9]+)?)(s|sec|secs|second|seconds)?$ ]]; then
    echo "${BASH_REMATCH[1]}"
  elif [[ $v =~ ^([0-9]+)(ms|msec)$ ]]; then
    printf '%d.%03d\n' $((BASH_REMATCH[1] / 1000)) $((BASH_REMATCH[1] % 1000))
  elif [[ $v =~ ^([0-9]+)(m|min|mins|minute|minutes)$ ]]; then
    echo $((BASH_REMATCH[1] * 60))
  elif [[ $v =~ ^([0-9]+)(h|hr|hour|hours)$ ]]; then
    echo $((BASH_REMATCH[1] * 3600))
  fi
}

do_shutdown() {
  local action=poweroff when=now a
  for a in "$@"; do
    case $a in
      -r | --reboot) action=reboot ;;
      -h | -P | --poweroff) action=poweroff ;;
      -H | --halt) action=halt ;;
      -c) action=cancel ;;
      -k) action=wall ;;
      -*) ;;
      *) when=$a && break ;;
    esac
  done
  case $action in
    cancel)
      # the scheduled job is a session of its own (setsid): kill its whole process group
      [[ -f /run/standin-shutdown.pid ]] && kill -- "-$(cat /run/standin-shutdown.pid)" 2>/dev/null
      rm -f /run/standin-shutdown.pid
      exit 0 ;;
    wall) exit 0 ;;
    reboot) ;;
    *) not_emulated shutdown "$@" ;;
  esac
  case $when in
    now | +0) reboot_now shutdown "$@" ;;
    +[0-9]*)
      local secs=$((${when#+} * 60))
      setsid -f /bin/bash -c 'echo $$ > /run/standin-shutdown.pid; sleep "$1"; exec /usr/sbin/reboot' \
        standin-shutdown "$secs" </dev/null >/dev/null 2>&1
      echo "Reboot scheduled for $(date -d "+$secs seconds"), use 'shutdown -c' to cancel."
      exit 0 ;;
    *) not_emulated shutdown "$@" ;;
  esac
}

do_systemctl() {
  local verb= a
  for a in "$@"; do
    case $a in
      -*) ;;
      *) verb=$a && break ;;
    esac
  done
  case $verb in
    reboot | kexec | soft-reboot) reboot_now systemctl "$@" ;;
    is-system-running) echo running && exit 0 ;;
    halt | poweroff) not_emulated systemctl "$@" ;;
    *)
      echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2
      echo "Failed to connect to bus: Host is down (stand-in host: only 'systemctl reboot' is emulated)" >&2
      exit 1 ;;
  esac
}

do_systemd_run() {
  local delay= timer= foreground= unit="run-u$RANDOM"
  while (($#)); do
    case $1 in
      --on-active=* | --on-boot=* | --on-startup=*) timer=1 && delay=$(seconds_of "${1#*=}") ;;
      --on-active | --on-boot | --on-startup) timer=1 && delay=$(seconds_of "${2:-}"); shift ;;
      --on-calendar* | --on-unit-active* | --on-unit-inactive* | --on-clock-change | --on-timezone-change)
        not_emulated systemd-run "$@" ;;
      --scope | --pty | -t | --pipe | -P | --wait | -W) foreground=1 ;;
      --unit=*) unit=${1#*=} ;;
      -u | --unit) unit=${2:-} && shift ;;
      -p | --property | -E | --setenv | --description | --slice | --uid | --gid | --nice | \
        --working-directory | -M | --machine | -H | --host | --timer-property | --path-property | \
        --socket-property | --service-type) shift ;;
      --) shift && break ;;
      -*) ;;
      *) break ;;
    esac
    shift
  done
  (($#)) || { echo "systemd-run: no command given" >&2 && exit 1; }
  [[ -z $timer || -n $delay ]] || { echo "systemd-run: bad time span" >&2 && exit 1; }
  if [[ -n $foreground ]]; then
    exec "$@"
  fi
  if [[ -n $timer ]]; then
    echo "Running timer as unit: $unit.timer" >&2
    echo "Will run service as unit: $unit.service" >&2
  else
    echo "Running as unit: $unit.service" >&2
  fi
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    setsid -f /bin/bash -c 'sleep "$1"; shift; exec "$@"' "$unit" "${delay:-0}" "$@" \
    </dev/null >>/var/log/standin-systemd-run.log 2>&1
  exit 0
}

case $me in
  reboot) reboot_now "$@" ;;
  shutdown) do_shutdown "$@" ;;
  halt | poweroff) not_emulated "$me" "$@" ;;
  systemctl) do_systemctl "$@" ;;
  systemd-run) do_systemd_run "$@" ;;
  *) not_emulated "$me" "$@" ;;
esac
