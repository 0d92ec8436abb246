# A stand-in for nixpkgs' nixos/lib/eval-config.nix, which Colmena's evaluator
# imports from `meta.nixpkgs`'s path and calls once per node:
#   evalConfig { system, modules, specialArgs } -> { config, options, pkgs }
#
# A small module system (no NixOS options but what the modules declare):
# imports are followed, module functions get specialArgs // { config, lib,
# pkgs, options }, definitions are merged (attribute sets recursively, lists
# concatenated, mkIf/mkOverride honoured, conflicts refused), options give
# defaults and types, and a name defined inside a declared namespace (such as
# Colmena's `deployment`) that declares no such option is refused with the
# module system's message. Laziness is kept where Colmena relies on it: a
# value is only evaluated when read, so `deployment` can be read from a node
# whose `fileSystems` throws.
#
# `config.system.build.toplevel` stands for the built system: it reads what
# every real build reads (fileSystems, the platform, the state version).
{ system ? null, modules, specialArgs ? { } }:
let
  inherit (builtins) all attrNames concatMap concatStringsSep elem filter foldl' head isAttrs isFunction isList isPath
    isString length listToAttrs map;
  lib = import ../../lib.nix;
  pkgs = import ../.. { system = if system == null then builtins.currentSystem else system; };

  args = specialArgs // { inherit lib pkgs config options; modulesPath = "/stub/nixos/modules"; };

  load = m:
    let
      value = if isPath m || isString m then import m else m;
      result = if isFunction value then value args else value;
    in
    if result ? config || result ? options then
      { imports = result.imports or [ ]; options = result.options or { }; config = result.config or { }; }
    else
      { imports = result.imports or [ ]; options = { }; config = removeAttrs result [ "imports" "_file" "key" ]; };

  collect = m: let loaded = load m; in [ loaded ] ++ concatMap collect loaded.imports;

  # Like the real one, it sets nixpkgs.system when `system` is not null, which
  # reads the argument in every evaluation.
  internal = { config, ... }: (if system != null then { nixpkgs.system = lib.mkDefault system; } else { }) // {
    system.build.toplevel = builtins.deepSeq config.fileSystems
      ("/stub/toplevel/" + config.networking.hostName + "/" + (config.nixpkgs.hostPlatform or config.nixpkgs.system)
        + "/" + config.system.stateVersion);
  };

  loaded = concatMap collect (modules ++ [ internal ]);

  isOption = v: isAttrs v && (v._type or null) == "option";
  isNamespace = v: isAttrs v && !(isOption v);
  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  unionOptions = a: b: a // builtins.mapAttrs
    (name: v: if isNamespace v && isNamespace (a.${name} or null) then unionOptions a.${name} v else v) b;
  options = foldl' unionOptions { } (map (m: m.options) loaded);

  # A definition: its value, the condition it is under, its priority (lower wins).
  unwrap = def:
    let v = def.value; in
    if isAttrs v && (v._type or null) == "if" then unwrap { value = v.content; cond = def.cond && v.condition; inherit (def) prio; }
    else if isAttrs v && (v._type or null) == "override" then unwrap { value = v.content; inherit (def) cond; prio = v.priority; }
    else def;
  isSetDef = def: isAttrs def.value && !(def.value ? _type);

  mergeAt = path: opt: rawDefs:
    let defs = map unwrap rawDefs; in
    if isOption opt then leaf path opt defs
    else if isNamespace opt || (defs != [ ] && all isSetDef defs) then mergeSet path opt defs
    else leaf path null defs;

  mergeSet = path: opt: defs:
    let
      setDefs = filter isSetDef defs;
      defined = unique (concatMap (def: attrNames def.value) setDefs);
      declared = if isNamespace opt then attrNames opt else [ ];
      undeclared = if path != [ ] && isNamespace opt then filter (name: !(opt ? ${name})) defined else [ ];
      child = name: mergeAt (path ++ [ name ]) (if isNamespace opt then opt.${name} or null else null)
        (concatMap (def: if def.value ? ${name} then [ { value = def.value.${name}; inherit (def) cond prio; } ] else [ ]) setDefs);
    in
    if undeclared != [ ] then throw "The option `${concatStringsSep "." (path ++ [ (head undeclared) ])}' does not exist."
    else listToAttrs (map (name: { inherit name; value = child name; }) (unique (defined ++ declared)));

  leaf = path: opt: defs:
    let
      name = concatStringsSep "." path;
      active = filter (def: def.cond) defs;
      best = foldl' (p: def: if def.prio < p then def.prio else p) 10000 active;
      top = filter (def: def.prio == best) active;
      value =
        if top == [ ] then
          (if isOption opt && opt ? default then opt.default else throw "The option `${name}' is used but not defined.")
        else if all (def: isList def.value) top then concatMap (def: def.value) top
        else if length top == 1 || all (def: def.value == (head top).value) top then (head top).value
        else throw "The option `${name}' has conflicting definition values.";
    in
    if isOption opt && opt ? type && !(opt.type.check value) then
      throw "A definition for option `${name}' is not of type `${opt.type.name}'."
    else value;

  config = mergeAt [ ] options (map (m: { value = m.config; cond = true; prio = 100; }) loaded);
in
{
  inherit config options pkgs;
}
