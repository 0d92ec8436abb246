#!/usr/bin/env bash
# fleet-private-network.service (nix/modules/private-network.nix runs it at
# boot): gives the host's private NIC its address and the route to the whole
# private network, which nixos-infect leaves broken on both clouds.
#
# Input, from the unit's environment (the module sets it from
# fleet.privateNetwork; no value is ever spliced into this code):
#   FLEET_PRIVATE_ADDRESS        the host's private IPv4 address
#   FLEET_PRIVATE_PREFIX_LENGTH  its prefix length on the interface (32 on Hetzner)
#   FLEET_PRIVATE_ROUTE          the private range to route over the interface
#   FLEET_PRIVATE_GATEWAY        gateway for the range; empty: on-link
#   FLEET_PRIVATE_MAC            MAC address of the private NIC; empty: unknown
#   FLEET_SYSFS_NET              only for tests (default /sys/class/net)
#
# Which interface: (1) the one that already has the address; (2) the one with
# the MAC address; (3) the only device-backed, non-loopback interface without
# a default route. Anything else is ambiguous: fail and name the candidates
# (systemd retries). It only adds (an address, a route); it never removes.
set -eu
address="$FLEET_PRIVATE_ADDRESS"
prefix_length="$FLEET_PRIVATE_PREFIX_LENGTH"
route="$FLEET_PRIVATE_ROUTE"
gateway="${FLEET_PRIVATE_GATEWAY:-}"
mac="${FLEET_PRIVATE_MAC:-}"
sysfs="${FLEET_SYSFS_NET:-/sys/class/net}"

log() { echo "fleet-private-network: $*"; }

# (1) The interface that already has the address.
interface_with_address() {
  local _index name _family cidr _rest
  while read -r _index name _family cidr _rest; do
    if [ "${cidr%/*}" = "$address" ]; then
      echo "${name%%@*}"
      return 0
    fi
  done <<< "$(ip -o -4 addr show)"
}

# (2) The interface with the MAC address the cloud reported.
interface_with_mac() {
  local want="${mac,,}" dir current
  for dir in "$sysfs"/*; do
    [ -r "$dir/address" ] || continue
    read -r current < "$dir/address"
    if [ "${current,,}" = "$want" ]; then
      echo "${dir##*/}"
      return 0
    fi
  done
}

# Interfaces that carry a default route (the public NIC).
default_route_interfaces() {
  local word after_dev=0
  for word in $(ip -4 route show default; ip -6 route show default 2>/dev/null || true); do
    if [ "$after_dev" = 1 ]; then echo "$word"; fi
    if [ "$word" = dev ]; then after_dev=1; else after_dev=0; fi
  done
}

# (3) The only device-backed, non-loopback interface without a default route.
only_candidate() {
  local defaults dir name
  local -a candidates=()
  defaults=" $(default_route_interfaces | while read -r name; do printf "%s " "$name"; done)"
  for dir in "$sysfs"/*; do
    name="${dir##*/}"
    [ "$name" != lo ] || continue
    [ -e "$dir/device" ] || continue
    case "$defaults" in *" $name "*) continue ;; esac
    candidates+=("$name")
  done
  if [ "${#candidates[@]}" = 1 ]; then
    echo "${candidates[0]}"
    return 0
  fi
  log "cannot tell which interface is private: no interface has $address${mac:+ or MAC $mac}, and ${#candidates[@]} device(s) carry no default route: ${candidates[*]:-none}" >&2
  return 1
}

interface="$(interface_with_address)"
found="it has $address"
if [ -z "$interface" ] && [ -n "$mac" ]; then
  interface="$(interface_with_mac)"
  found="its MAC is $mac"
fi
if [ -z "$interface" ]; then
  interface="$(only_candidate)"
  found="it is the only device without a default route"
fi

ip link set dev "$interface" up
if [ "$(interface_with_address)" != "$interface" ]; then
  ip addr add "$address/$prefix_length" dev "$interface"
fi
if [ -n "$gateway" ]; then
  ip route replace "$route" via "$gateway" dev "$interface" onlink
else
  ip route replace "$route" dev "$interface"
fi
log "$interface ($found): $address/$prefix_length, route $route${gateway:+ via $gateway}"
