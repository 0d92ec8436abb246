# A stand-in for nixpkgs' lib: just what the hive, nix/modules and hosts/*.nix
# use, with the module system's markers (mkIf, mkOverride) as plain data that
# ./nixos/lib/eval-config.nix interprets.
rec {
  version = "26.05pre-stub";
  mkOption = attrs: attrs // { _type = "option"; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  mkBefore = content: content;
  assertMsg = pred: msg: pred || builtins.throw msg;
  mapAttrs = builtins.mapAttrs;
  filterAttrs = pred: set: builtins.listToAttrs (builtins.concatMap
    (name: if pred name set.${name} then [ { inherit name; value = set.${name}; } ] else [ ]) (builtins.attrNames set));
  types = {
    str = { name = "str"; check = builtins.isString; };
    int = { name = "int"; check = builtins.isInt; };
    bool = { name = "bool"; check = builtins.isBool; };
    attrs = { name = "attrs"; check = builtins.isAttrs; };
    unsignedInt = { name = "unsigned int"; check = v: builtins.isInt v && v >= 0; };
    listOf = t: { name = "list of ${t.name}"; check = v: builtins.isList v && builtins.all t.check v; };
    nullOr = t: { name = "null or ${t.name}"; check = v: v == null || t.check v; nullOr = t; };
    submodule = module: { name = "submodule"; check = builtins.isAttrs; submodule = module; };
  };
}
