# What the hive tests evaluate a project's hive.nix with, where there is no
# nixpkgs: the stand-in lib (./colmena/stub-nixpkgs/lib.nix: mkOption, mkIf
# and mkOverride keep their arguments as data), each node's module called the
# way Colmena calls it, and the private network module called on its own.
{ hive }:
rec {
  inherit hive;
  lib = import ./colmena/stub-nixpkgs/lib.nix;

  # A node's module, called with the module arguments Colmena gives it.
  node = name: hive.${name} { inherit name lib; nodes = { }; pkgs = { }; };

  # An import as the tests compare it: paths as strings, modules as "<module>".
  describe = x: if builtins.isPath x then toString x else if builtins.isString x then x else "<module>";

  privateNetworkModule = import (builtins.elemAt hive.defaults.imports 1);
  evalPrivateNetwork = settings: privateNetworkModule {
    inherit lib;
    config.fleet.privateNetwork = settings;
    pkgs = { iproute2 = "/stub/iproute2"; };
  };

  # What the tests read back from each node.
  summary = builtins.mapAttrs (name: _:
    let n = node name; in {
      deployment = n.deployment;
      hostName = n.networking.hostName;
      hostPlatform = n.nixpkgs.hostPlatform.content;
      stateVersion = n.system.stateVersion.content;
      privateNetwork = n.fleet.privateNetwork or null;
      imports = map describe n.imports;
    }) (removeAttrs hive [ "meta" "defaults" ]);
}
