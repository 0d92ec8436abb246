# Stands in for files a host's configuration needs but that are not there (its
# module hosts/<name>.nix, or the facts `npm run hive` copies from the host).
#
# A throw in `imports` would break every Colmena command for every host:
# Colmena evaluates every node's `deployment` to select hosts (`--on @tag`),
# and the module system collects all imports of a node to do so. This module
# keeps `deployment` readable, but building the host stops with the message:
# every build reads fileSystems, and without the host's facts a system would
# come out without its boot loader, file systems or addresses.
#
# Usage: (import ./cannot-build.nix { host = "db-1"; problems = [ "..." ]; })
{ host, problems }:
{ ... }:
{
  fileSystems = throw ("nixos-fleet: cannot build host " + host + ": "
    + builtins.concatStringsSep "; " problems);
}
