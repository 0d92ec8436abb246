# The non-root login user the install and Colmena connect as.
#
# nixos-infect's first boot keeps only what its generated configuration
# declares: a non-root user that is not declared is gone afterwards. The hive
# imports this module for every host whose SSH user is not root, so the user
# survives and can deploy:
# - a normal user in "wheel" with the fleet's admin keys;
# - sudo without a password for wheel (Colmena runs `sudo -H --` to activate);
# - trusted by Nix (nix.settings.trusted-users): copying a closure to the host
#   (nix-copy-closure / `nix copy` over SSH) imports store paths that carry no
#   signature the host trusts, which only a trusted user may do.
#
# Usage: (import ./admin-user.nix { name = "deploy"; authorizedKeys = [ "ssh-ed25519 ..." ]; })
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
