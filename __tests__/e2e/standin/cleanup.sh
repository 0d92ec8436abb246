#!/bin/bash
# Removes everything one stand-in fleet created (see standin.ts): its processes, network namespaces,
# veths, bridge, subnet lock and state dir. Mounts need no work: they only exist in the hosts'
# private mount namespaces, which vanish with the hosts' last process. Idempotent.
#
#   cleanup.sh ID STATE_ROOT LOCK_ROOT                     clean up now (stop(), cleanupStale())
#   cleanup.sh --when-dead PID ID STATE_ROOT LOCK_ROOT     the fleet's reaper: wait until process PID
#                                                          (the test process) is gone, then clean up
# ID is nf<pid> or nf<pid>x<k>.
set -u
if [[ ${1:-} == --when-dead ]]; then
  tail --pid="$2" -s 0.5 -f /dev/null
  shift 2
  echo "$(date '+%F %T') reaper: process gone, cleaning up $1"
fi
id=${1:?id} state_root=${2:?state root} lock_root=${3:?lock root}
[[ $id =~ ^nf[0-9]+(x[0-9]+)?$ ]] || { echo "cleanup.sh: bad id '$id'" >&2; exit 2; }

mapfile -t nss < <(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${id}-[0-9]+$")

# Processes: every process of a host is in its network namespace (supervisor, boots, sshd, sessions,
# exec'd commands). Ask the supervisors to power off first (clean exit, no orphans), then SIGKILL.
for f in "$state_root/$id"/hosts/*/ctl; do
  [[ -d $f ]] && : >"$f/stop" 2>/dev/null
done
for ((round = 0; round < 200; round++)); do
  pids=
  for ns in "${nss[@]}"; do pids+=" $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"; done
  [[ -z ${pids// /} ]] && break
  # give supervisors 0.5 s to power off by themselves, then force
  ((round >= 10)) && kill -KILL $pids 2>/dev/null
  sleep 0.05
done

# Links: deleting the root-side veth deletes its peer (eth0 in the namespace) too; bridge last.
mapfile -t links < <(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${id}(v[0-9]+|br)$")
# (in parallel: each deletion waits for an RCU grace period, ~25 ms, much more on a busy machine)
for l in "${links[@]}"; do [[ $l == *br ]] || ip link del "$l" 2>/dev/null & done
wait
for l in "${links[@]}"; do [[ $l == *br ]] && ip link del "$l" 2>/dev/null; done
for ns in "${nss[@]}"; do ip netns del "$ns" 2>/dev/null; done

rm -rf "${state_root:?}/$id"
for l in "$lock_root"/net-*; do
  [[ -d $l && $(cat "$l/owner" 2>/dev/null) == "$id" ]] && rm -rf "$l"
done
rmdir "$state_root" "$lock_root" 2>/dev/null # only if empty (no other fleet)
exit 0
