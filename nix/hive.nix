# The Colmena hive of a nixos-fleet fleet, built from data.
#
# The generated hive.nix (stack output `hive_nix`, written by `npm run hive`)
# is only data: `import ./nix/hive.nix { fleet = { ... }; hosts = { ... }; }`.
# Everything the hive does is here and in ./modules, so it can be read, changed
# and tested as Nix. It works with Colmena 0.4 and 0.5 (see `sshOptions`).
#
# fleet:
#   description    meta.description
#   channel        "nixos-YY.MM" or "nixos-unstable": used only when the
#                  nixpkgs pin is missing (then with a warning)
#   nixpkgsPin     path of the nixpkgs pin, JSON { "channel", "rev", "sha256" }
#   sopsNixPin     path of the sops-nix pin, JSON { "rev", "sha256" }
#   commonModule   path of the module every host imports (hosts/common.nix)
#   adminSshKeys   root's authorized keys on every host (and the admin user's)
# hosts.<name>:
#   system         "x86_64-linux" or "aarch64-linux": the host's platform
#   stateVersion   "YY.MM": system.stateVersion, the release the host was installed with
#   targetHost     address Colmena connects to (an IPv6 address without brackets:
#                  ssh takes it bare, and Nix's SSH store accepts it bare too)
#   targetUser     SSH user; not root: ./modules/admin-user.nix declares it
#   targetPort     SSH port
#   tags           Colmena tags (`colmena apply --on @tag`)
#   buildOnTarget  true/false, or null: build on the host exactly when its
#                  system is not the one Colmena runs on (an aarch64 host from
#                  an x86_64 workstation), so `colmena apply` works without a
#                  remote builder or binfmt emulation
#   sshOptions     extra ssh arguments (deployment.sshOptions, Colmena >= 0.5),
#                  or null: the option is not set, as Colmena 0.4 requires
#   module         path of the host's module (hosts/<name>.nix)
#   hardware       path of hosts/<name>/hardware-configuration.nix (copied from the host)
#   networking     path of hosts/<name>/networking.nix (copied from the host)
#   secrets        path of secrets/<name>.yaml (used when it exists)
#   privateNetwork fleet.privateNetwork (./modules/private-network.nix), or null
{ fleet, hosts }:
let
  inherit (builtins) concatStringsSep filter map mapAttrs pathExists;

  # The system Colmena evaluates on. Absent in pure evaluation: then assume x86_64-linux.
  localSystem = builtins.currentSystem or "x86_64-linux";

  # What a host's configuration cannot be built without, and what to do about it.
  problemsOf = host:
    let
      missingFacts = filter (file: !(pathExists file)) [ host.hardware host.networking ];
    in
    (if pathExists host.module then [ ] else [
      ("its module " + toString host.module + " does not exist. Create it (hosts/web-1.nix is an example),"
        + " or set the host's `module` in main.ts to an existing file")
    ])
    ++ (if missingFacts == [ ] then [ ] else [
      ("missing " + concatStringsSep " and " (map toString missingFacts)
        + " (its boot loader, file systems and network addresses). Run `npm run hive` to copy them from the host.")
    ]);

  # A node's imports: its module, the facts copied from the host, sops-nix when
  # it has secrets, the admin user when Colmena does not log in as root. When
  # something is missing, the guard instead of the module and the facts.
  importsOf = name: host:
    let
      problems = problemsOf host;
    in
    (if problems == [ ] then [ host.module host.hardware host.networking ]
     else [ (import ./modules/cannot-build.nix { host = name; inherit problems; }) ])
    ++ (if pathExists host.secrets then import ./modules/sops.nix { pin = fleet.sopsNixPin; secretsFile = host.secrets; } else [ ])
    ++ (if host.targetUser == "root" then [ ] else [
      (import ./modules/admin-user.nix { name = host.targetUser; authorizedKeys = fleet.adminSshKeys; })
    ]);

  node = name: host: { lib, ... }: {
    imports = importsOf name host;
    deployment = {
      inherit (host) targetHost targetUser targetPort tags;
      buildOnTarget = if host.buildOnTarget != null then host.buildOnTarget else host.system != localSystem;
    } // (if host.sshOptions == null then { } else { inherit (host) sshOptions; });
    networking.hostName = name;
    nixpkgs.hostPlatform = lib.mkDefault host.system;
    system.stateVersion = lib.mkDefault host.stateVersion;
    fleet.privateNetwork = host.privateNetwork;
  };

  # The nixpkgs every host is built from: the revision in the pin, else the
  # channel's current tarball (unpinned, with a warning). Lazy: nothing is
  # fetched until Colmena evaluates a host. The hosts' platforms come from
  # nixpkgs.hostPlatform, not from this instance's system.
  nixpkgs =
    if pathExists fleet.nixpkgsPin then
      let pin = builtins.fromJSON (builtins.readFile fleet.nixpkgsPin); in
      import (builtins.fetchTarball {
        url = "https://github.com/NixOS/nixpkgs/archive/${pin.rev}.tar.gz";
        sha256 = pin.sha256;
      }) { }
    else
      builtins.trace ("warning: " + toString fleet.nixpkgsPin + " not found; building from the unpinned channel "
        + fleet.channel + ". Pin it: `npm run pin -- " + fleet.channel + "` writes it.")
        (import (builtins.fetchTarball "https://nixos.org/channels/${fleet.channel}/nixexprs.tar.xz") { });
  reserved = filter (name: builtins.hasAttr name hosts) [ "meta" "defaults" "network" ];
in
assert reserved == [ ] || throw ("nixos-fleet: host names reserved by Colmena: " + concatStringsSep ", " reserved);
{
  meta = {
    inherit (fleet) description;
    inherit nixpkgs;
  };

  defaults = {
    imports = [ fleet.commonModule ./modules/private-network.nix ];
    # The fleet's admin keys: the first `colmena apply` keeps root reachable.
    users.users.root.openssh.authorizedKeys.keys = fleet.adminSshKeys;
  };
} // mapAttrs node hosts
