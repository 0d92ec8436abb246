/**
 * The NixOS module that repairs a host's private network after nixos-infect.
 *
 * nixos-infect copies the live network configuration into networking.nix, and
 * on both clouds the private NIC comes out broken: on Hetzner it has its /32
 * address but no route to the network (nixos-infect #242); on DigitalOcean the
 * VPC NIC gets no routes. The interface name cannot be known when the hive is
 * generated (it depends on the server type and on the installed system's
 * naming), so the module declares the facts as options and a oneshot service
 * finds the interface on the host and sets the address and the route.
 *
 * The module text is static; per host, the hive only sets the option values
 * (`privateNetworkSettings`). The script reads the values from its
 * environment, so no value is ever spliced into shell code.
 */
import { ProvisionedHost } from './cloud-adapter';
import { NixExpr, NixValue, nix, nixAttrName, nixIndentedString } from './nix';

/** The systemd service that sets the address and route. */
export const PRIVATE_NETWORK_SERVICE = 'fleet-private-network';

/** What the module relies on; written into the generated module as a comment (and the README). */
export const PRIVATE_NETWORK_ASSUMPTIONS = `fleet.privateNetwork: the host's private IPv4 network (nixos-fleet).
nixos-infect leaves the private NIC broken on both clouds (Hetzner: address but
no route, nixos-infect #242; DigitalOcean: the VPC NIC gets no routes). The
service ${PRIVATE_NETWORK_SERVICE} repairs it at boot. Assumptions:
- One private IPv4 address per host (Hetzner: privateIp from main.ts;
  DigitalOcean: assigned by the VPC, known after apply). IPv4 only: neither
  cloud's private network carries IPv6.
- The private interface is, in this order: (1) the interface that already has
  the address (nixos-infect copies it into networking.nix); (2) the interface
  with the MAC address the cloud reported, when it reported one; (3) the only
  interface that is not loopback, is backed by a device (has
  /sys/class/net/<if>/device; bridges, veths, tunnels and WireGuard do not)
  and carries no default route (the public NIC does). Anything else is
  ambiguous: the service fails, names the candidates, and retries every 10 s.
- Hetzner: the address is a /32 and the whole network range is routed via the
  network's gateway (its first address), which lies outside the /32, hence
  "onlink". DigitalOcean: the VPC range is on-link (no gateway).
- The service only adds: an address (when the interface lacks it) and the route
  (ip route replace). It never removes addresses or routes.
- Services that bind the private address (e.g. PostgreSQL on db-1) should start
  after ${PRIVATE_NETWORK_SERVICE}.service.`;

/**
 * The service's script (bash; NixOS runs it with `set -e`). Written without
 * single quotes on purpose: they are verbose in a Nix '' string.
 * FLEET_SYSFS_NET exists only so tests can present interfaces as backed by a device.
 */
export const PRIVATE_NETWORK_SCRIPT = `set -eu
address="$FLEET_PRIVATE_ADDRESS"
prefix_length="$FLEET_PRIVATE_PREFIX_LENGTH"
route="$FLEET_PRIVATE_ROUTE"
gateway="\${FLEET_PRIVATE_GATEWAY:-}"
mac="\${FLEET_PRIVATE_MAC:-}"
sysfs="\${FLEET_SYSFS_NET:-/sys/class/net}"

log() { echo "${PRIVATE_NETWORK_SERVICE}: $*"; }

# (1) The interface that already has the address.
interface_with_address() {
  local _index name _family cidr _rest
  while read -r _index name _family cidr _rest; do
    if [ "\${cidr%/*}" = "$address" ]; then
      echo "\${name%%@*}"
      return 0
    fi
  done <<< "$(ip -o -4 addr show)"
}

# (2) The interface with the MAC address the cloud reported.
interface_with_mac() {
  local want="\${mac,,}" dir current
  for dir in "$sysfs"/*; do
    [ -r "$dir/address" ] || continue
    read -r current < "$dir/address"
    if [ "\${current,,}" = "$want" ]; then
      echo "\${dir##*/}"
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
    name="\${dir##*/}"
    [ "$name" != lo ] || continue
    [ -e "$dir/device" ] || continue
    case "$defaults" in *" $name "*) continue ;; esac
    candidates+=("$name")
  done
  if [ "\${#candidates[@]}" = 1 ]; then
    echo "\${candidates[0]}"
    return 0
  fi
  log "cannot tell which interface is private: no interface has $address\${mac:+ or MAC $mac}, and \${#candidates[@]} device(s) carry no default route: \${candidates[*]:-none}" >&2
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
log "$interface ($found): $address/$prefix_length, route $route\${gateway:+ via $gateway}"
`;

/**
 * The module (a function `{ config, lib, pkgs, ... }:`), for every node's
 * imports (put PRIVATE_NETWORK_ASSUMPTIONS next to it as a comment): declares `fleet.privateNetwork` (null: no private network) and,
 * when it is set, the repair service.
 */
export function renderPrivateNetworkModule(): NixExpr {
  return nix`{ config, lib, pkgs, ... }:
let
  cfg = config.fleet.privateNetwork;
  orEmpty = value: if value == null then "" else value;
in
{
  options.fleet.privateNetwork = lib.mkOption {
    description = "The host's private IPv4 network (set by the generated hive), or null.";
    default = null;
    type = lib.types.nullOr (lib.types.submodule {
      options = {
        address = lib.mkOption {
          type = lib.types.str;
          description = "The host's private IPv4 address.";
        };
        prefixLength = lib.mkOption {
          type = lib.types.int;
          description = "Prefix length of the address on its interface (32 on Hetzner).";
        };
        routeCidr = lib.mkOption {
          type = lib.types.str;
          description = "The whole private range, routed over the private interface (use it in firewall rules).";
        };
        gateway = lib.mkOption {
          type = lib.types.nullOr lib.types.str;
          default = null;
          description = "Gateway for routeCidr; null when the range is on-link.";
        };
        macAddress = lib.mkOption {
          type = lib.types.nullOr lib.types.str;
          default = null;
          description = "MAC address of the private interface, when the cloud reports it.";
        };
      };
    });
  };

  config = lib.mkIf (cfg != null) {
    systemd.services.${nixAttrName(PRIVATE_NETWORK_SERVICE)} = {
      description = "nixos-fleet: private network address and route";
      after = [ "network.target" ];
      wantedBy = [ "multi-user.target" ];
      path = [ pkgs.iproute2 ];
      environment = {
        FLEET_PRIVATE_ADDRESS = cfg.address;
        FLEET_PRIVATE_PREFIX_LENGTH = toString cfg.prefixLength;
        FLEET_PRIVATE_ROUTE = cfg.routeCidr;
        FLEET_PRIVATE_GATEWAY = orEmpty cfg.gateway;
        FLEET_PRIVATE_MAC = orEmpty cfg.macAddress;
      };
      # Keep retrying: the NIC may appear late, or the facts may be wrong and fixed by the next deploy.
      startLimitIntervalSec = 0;
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        Restart = "on-failure";
        RestartSec = "10s";
      };
      script = ${nixIndentedString(PRIVATE_NETWORK_SCRIPT)};
    };
  };
}`;
}

/** The `fleet.privateNetwork` value of a host, or undefined when it has no private network. */
export function privateNetworkSettings(host: ProvisionedHost): NixValue | undefined {
  const net = host.privateNetwork;
  if (!net) return undefined;
  if (host.privateIp === '') throw new Error(`host ${JSON.stringify(host.name)}: privateNetwork is set but privateIp is empty`);
  return {
    address: host.privateIp,
    prefixLength: net.prefixLength,
    routeCidr: net.routeCidr,
    gateway: net.gateway ?? null,
    macAddress: net.macAddress ?? null,
  };
}
