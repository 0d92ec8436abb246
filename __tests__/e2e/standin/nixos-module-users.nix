# For fake-nixos-infect.sh: what a NixOS module tree (the file nixos-infect gets as NIXOS_IMPORT)
# declares about users, as JSON, without nixpkgs. Modules are called with stub arguments, so this
# reads modules made of plain attribute sets (as nix/modules/admin-user.nix is); a module that
# needs lib or pkgs fails the evaluation, and with it the stand-in install (loudly).
#   nix-instantiate --eval --strict --json nixos-module-users.nix --arg file /etc/nixos/x.nix
{ file }:
let
  args = { config = { }; options = { }; lib = { }; pkgs = { }; modulesPath = "/"; };
  load = m:
    if builtins.isFunction m then m args
    else if builtins.isAttrs m then m
    else load (import m);
  collect = m: let v = load m; in [ v ] ++ builtins.concatLists (map collect (v.imports or [ ]));
  modules = collect file;
  users = builtins.foldl' (acc: v: acc // (v.users.users or { })) { } modules;
in
{
  users = builtins.mapAttrs (_: u: {
    isNormalUser = u.isNormalUser or false;
    groups = u.extraGroups or [ ];
    keys = u.openssh.authorizedKeys.keys or [ ];
  }) users;
  wheelNeedsPassword = builtins.foldl' (acc: v: v.security.sudo.wheelNeedsPassword or acc) true modules;
  trustedUsers = builtins.concatLists (map (v: v.nix.settings.trusted-users or [ ]) modules);
}
