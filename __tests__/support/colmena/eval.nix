# Stand-ins for Colmena's hive evaluator (src/nix/hive/eval.nix), one per
# release, written from the contract each release's file implements:
#   version = "0.4": zhaofengli/colmena v0.4.0;  "0.5": nix-community/colmena v0.5.0.
#
# What both do (and this file does):
# - rawHive: an attribute set, or a function called with { }.
# - `meta` (or, NixOps style, `network`; not both) is checked against the
#   meta options: name, description, nixpkgs, nodeNixpkgs, nodeSpecialArgs,
#   machinesFile, specialArgs, allowApplyAll. Anything else is refused.
# - meta.nixpkgs: a path (imported), a function (called with
#   { overlays = [ ]; }) or an initialized nixpkgs set; per node
#   meta.nodeNixpkgs.<name> instead when set.
# - Nodes: every attribute but defaults, network and meta; a node is a module
#   or a list of modules. Each is evaluated by the nixpkgs' own
#   nixos/lib/eval-config.nix with modules = [ Colmena's deployment options,
#   hive.defaults ] ++ the node's, specialArgs with `name` and `nodes`.
# - Exports: __schema, nodes, toplevel, deploymentConfig,
#   deploymentConfigSelected, evalSelected, evalSelectedDrvPaths, metaConfig.
#   `colmena apply --on @tag` reads deploymentConfig of every node to select.
# Where they differ:
# - the system given to eval-config: 0.4 reads `pkgs.system` of the nixpkgs
#   instance (deprecated on nixpkgs >= 25.11: a warning), 0.5
#   `pkgs.stdenv.hostPlatform.system`;
# - specialArgs: 0.4 puts name and nodes last (they win), 0.5 first (meta's win);
# - deployment options: 0.5 adds deployment.sshOptions (list of str);
# - __schema: "v0" (0.4), "v0.5" (0.5).
# Left out: the nixpkgs/keys/assertion helper modules Colmena adds (they need
# real NixOS options) and flake evaluation.
{ version, rawHive }:
with builtins;
let
  is05 =
    if version == "0.4" then false
    else if version == "0.5" then true
    else throw "stub Colmena: version must be \"0.4\" or \"0.5\"";

  uncheckedHive =
    if typeOf rawHive == "lambda" || rawHive ? __functor then rawHive { }
    else if typeOf rawHive == "set" then rawHive
    else throw "The config must evaluate to an attribute set.";

  uncheckedUserMeta =
    if uncheckedHive ? meta && uncheckedHive ? network then
      throw "Only one of `network` and `meta` may be specified. `meta` should be used as `network` is for NixOps compatibility."
    else uncheckedHive.meta or uncheckedHive.network or { };

  metaDefaults = {
    name = "hive";
    description = "A Colmena Hive";
    nixpkgs = null;
    nodeNixpkgs = { };
    nodeSpecialArgs = { };
    machinesFile = null;
    specialArgs = { };
    allowApplyAll = true;
  };
  userMeta =
    let unknown = filter (n: !(metaDefaults ? ${n})) (attrNames uncheckedUserMeta); in
    if unknown != [ ] then throw "The option `${head unknown}' does not exist."
    else metaDefaults // uncheckedUserMeta;

  hive = removeAttrs ({ defaults = { }; } // uncheckedHive) [ "meta" "network" ] // { meta = userMeta; };

  mkNixpkgs = configName: pkgConf:
    if typeOf pkgConf == "path" || (typeOf pkgConf == "set" && pkgConf ? outPath) then mkNixpkgs configName (import pkgConf)
    else if typeOf pkgConf == "lambda" then pkgConf { overlays = [ ]; }
    else if typeOf pkgConf == "set" then pkgConf
    else throw "${configName} must be one of: a path to Nixpkgs, a Nixpkgs lambda, a Nixpkgs attribute set";

  nixpkgs = mkNixpkgs "meta.nixpkgs" (if uncheckedUserMeta ? nixpkgs then uncheckedUserMeta.nixpkgs else <nixpkgs>);
  lib = nixpkgs.lib;
  reservedNames = [ "defaults" "network" "meta" ];

  deploymentOptions = { name, lib, ... }:
    let
      inherit (lib) mkOption types;
    in
    {
      options.deployment = {
        targetHost = mkOption { type = types.nullOr types.str; default = name; };
        targetPort = mkOption { type = types.nullOr types.unsignedInt; default = null; };
        targetUser = mkOption { type = types.nullOr types.str; default = "root"; };
        allowLocalDeployment = mkOption { type = types.bool; default = false; };
        buildOnTarget = mkOption { type = types.bool; default = false; };
        tags = mkOption { type = types.listOf types.str; default = [ ]; };
        keys = mkOption { type = types.attrs; default = { }; };
        replaceUnknownProfiles = mkOption { type = types.bool; default = true; };
        privilegeEscalationCommand = mkOption { type = types.listOf types.str; default = [ "sudo" "-H" "--" ]; };
      } // (if is05 then {
        sshOptions = mkOption { type = types.listOf types.str; default = [ ]; };
      } else { });
    };

  configsFor = node:
    let nodeConfig = hive.${node}; in
    assert lib.assertMsg (!elem node reservedNames) "\"${node}\" is a reserved name and cannot be used as the name of a node";
    if typeOf nodeConfig == "list" then nodeConfig else [ nodeConfig ];

  evalNode = name: configs:
    let
      npkgs =
        if hasAttr name hive.meta.nodeNixpkgs then mkNixpkgs "meta.nodeNixpkgs.${name}" hive.meta.nodeNixpkgs.${name}
        else nixpkgs;
      evalConfig = import (npkgs.path + "/nixos/lib/eval-config.nix");
      nameAndNodes = { inherit name; nodes = nodes; };
    in
    evalConfig {
      system = if is05 then npkgs.stdenv.hostPlatform.system else npkgs.system;
      modules = [ deploymentOptions hive.defaults ] ++ configs;
      specialArgs =
        if is05 then nameAndNodes // hive.meta.specialArgs // (hive.meta.nodeSpecialArgs.${name} or { })
        else hive.meta.specialArgs // (hive.meta.nodeSpecialArgs.${name} or { }) // nameAndNodes;
    };

  nodeNames = filter (name: !elem name reservedNames) (attrNames hive);
  nodes = listToAttrs (map (name: { inherit name; value = evalNode name (configsFor name); }) nodeNames);
  metaConfigKeys = [ "name" "description" "machinesFile" "allowApplyAll" ];
in
rec {
  __schema = if is05 then "v0.5" else "v0";
  inherit nodes;
  toplevel = lib.mapAttrs (_: v: v.config.system.build.toplevel) nodes;
  deploymentConfig = lib.mapAttrs (_: v: v.config.deployment) nodes;
  deploymentConfigSelected = names: lib.filterAttrs (name: _: elem name names) deploymentConfig;
  evalSelected = names: lib.filterAttrs (name: _: elem name names) toplevel;
  evalSelectedDrvPaths = names: evalSelected names;
  metaConfig = lib.filterAttrs (n: v: elem n metaConfigKeys) hive.meta;
}
