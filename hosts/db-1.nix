# db-1: PostgreSQL, reachable only from the fleet's private network.
# It listens on localhost and on the host's private address, and the NixOS
# firewall accepts port 5432 only from the private range. The cloud firewall
# (main.ts) does not open 5432 to the internet either.
{ config, lib, pkgs, ... }:
let
  net =
    if config.fleet.privateNetwork != null then config.fleet.privateNetwork
    else throw "hosts/db-1.nix: this host has no private network (fleet.privateNetwork), and PostgreSQL here listens only there";
in
{
  services.postgresql = {
    enable = true;
    # mkForce: the module's own default is "localhost" (or "*" with enableTCPIP).
    settings.listen_addresses = lib.mkForce "localhost,${net.address}";
    # Password logins from the private range only; local connections as before.
    authentication = ''
      host all all ${net.routeCidr} scram-sha-256
    '';
  };

  # The private address is set by fleet-private-network.service (nix/modules/private-network.nix);
  # PostgreSQL cannot bind it before it exists.
  systemd.services.postgresql = {
    after = [ "fleet-private-network.service" ];
    wants = [ "fleet-private-network.service" ];
  };

  # iptables firewall (the NixOS default; with networking.nftables.enable use
  # networking.firewall.extraInputRules instead). The firewall flushes its
  # nixos-fw chain when it restarts, so the rule needs no stop command.
  networking.firewall.extraCommands = ''
    iptables -A nixos-fw -p tcp -s ${net.routeCidr} --dport 5432 -j nixos-fw-accept
  '';
}
