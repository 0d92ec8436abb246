# fleet.privateNetwork: the host's private IPv4 network (nixos-fleet).
#
# nixos-infect leaves the private NIC broken on both clouds (Hetzner: address
# but no route, nixos-infect #242; DigitalOcean: the VPC NIC gets no routes).
# The service fleet-private-network repairs it at boot, with the script
# ./private-network.sh. The interface name cannot be known when the hive is
# generated (it depends on the server type and on the installed system's
# naming), so this module takes the facts as options and the script finds the
# interface on the host. Assumptions:
# - One private IPv4 address per host (Hetzner: privateIp from main.ts;
#   DigitalOcean: assigned by the VPC, known after apply). IPv4 only: neither
#   cloud's private network carries IPv6.
# - The private interface is, in this order: (1) the interface that already has
#   the address (nixos-infect copies it into networking.nix); (2) the interface
#   with the MAC address the cloud reported, when it reported one; (3) the only
#   interface that is not loopback, is backed by a device (has
#   /sys/class/net/<if>/device; bridges, veths, tunnels and WireGuard do not)
#   and carries no default route (the public NIC does). Anything else is
#   ambiguous: the service fails, names the candidates, and retries every 10 s.
# - Hetzner: the address is a /32 and the whole network range is routed via the
#   network's gateway (its first address), which lies outside the /32, hence
#   "onlink". DigitalOcean: the VPC range is on-link (no gateway).
# - The service only adds: an address (when the interface lacks it) and the
#   route (ip route replace). It never removes addresses or routes.
# - Services that bind the private address (e.g. PostgreSQL on db-1) should
#   start after fleet-private-network.service.
{ config, lib, pkgs, ... }:
let
  cfg = config.fleet.privateNetwork;
  orEmpty = value: if value == null then "" else value;
in
{
  options.fleet.privateNetwork = lib.mkOption {
    description = "The host's private IPv4 network (set by the hive from the stack's facts), or null.";
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
    systemd.services.fleet-private-network = {
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
      # NixOS runs it with bash -e; the file's own shebang line is a comment here.
      script = builtins.readFile ./private-network.sh;
    };
  };
}
