# This host had no /etc/nixos/networking.nix when `npm run hive` ran: its
# installer did not write a static network configuration (a machine you
# brought, not converted by nixos-infect with network configuration, gets its
# addresses some other way: DHCP, its own configuration).
# If the host needs static addresses or routes, declare them here; they are
# part of every `colmena apply` to this host. `npm run hive` wrote this file
# from nix/templates/empty-networking.nix and keeps it from now on.
{ ... }:
{
}
