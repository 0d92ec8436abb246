# A stand-in for `import nixpkgs { ... }`: what Colmena's evaluator reads from
# a nixpkgs instance (lib, path, overlays, config, the platform). `system` is
# the attribute nixpkgs >= 25.11 deprecates (it warns when read), and Colmena
# 0.4 reads it; Colmena 0.5 reads stdenv.hostPlatform.system instead.
{ system ? builtins.currentSystem, overlays ? [ ], config ? { }, ... }:
{
  lib = import ./lib.nix;
  path = ./.;
  inherit overlays config;
  system = builtins.trace "evaluation warning: 'system' has been renamed to/replaced by 'stdenv.hostPlatform.system'" system;
  stdenv.hostPlatform.system = system;
  iproute2 = "/stub/iproute2";
}
