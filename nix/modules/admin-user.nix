# The fleet's admin login for a host reached as a user other than root.
#
# nixos-infect's generated configuration declares root alone, and the first
# NixOS boot moves the old system (/etc, /home, its users) to /old-root: a
# login user survives only if a module declares it. The install step passes
# this module (through NIXOS_IMPORT) into the installed configuration, and the
# hive imports the same file, so the first `colmena apply` keeps the user.
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
  # Colmena and the install log in as this user and escalate with `sudo -n`.
  security.sudo.wheelNeedsPassword = false;
  # `colmena apply` copies closures to the host as this user.
  nix.settings.trusted-users = [ name ];
}
