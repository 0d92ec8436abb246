# The non-root login user the install and Colmena connect as.
#
# nixos-infect's generated configuration declares root alone, and the first
# NixOS boot moves the old system (/etc, /home, its users) to /old-root: a
# login user survives only if a module declares it. The install step passes
# this module (through NIXOS_IMPORT) into the installed configuration, and the
# hive imports the same file for every host whose SSH user is not root, so the
# first `colmena apply` keeps the user:
# - a normal user in "wheel" with the fleet's admin keys;
# - sudo without a password for wheel (the install escalates with `sudo -n`,
#   Colmena activates with `sudo -H --`);
# - trusted by Nix (nix.settings.trusted-users): copying a closure to the host
#   (nix-copy-closure / `nix copy` over SSH) imports store paths that carry no
#   signature the host trusts, which only a trusted user may do.
#
# Usage: (import ./admin-user.nix { name = "deploy"; authorizedKeys = [ "ssh-ed25519 ..." ]; })
# Plain attribute sets only (no lib, no pkgs): it must also evaluate with the
# stub arguments the tests give.
{ name, authorizedKeys }:
{ ... }:
{
  users.users.${name} = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
    openssh.authorizedKeys.keys = authorizedKeys;
  };
  security.sudo.wheelNeedsPassword = false;
  nix.settings.trusted-users = [ name ];
}
