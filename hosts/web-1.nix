# web-1: serves a hello page over HTTP.
# The cloud firewall opens port 80 for this host (main.ts); NixOS's own
# firewall must open it too.
{ config, lib, pkgs, ... }:
let
  page = pkgs.writeTextDir "index.html" ''
    <!doctype html>
    <html lang="en">
      <head><meta charset="utf-8"><title>${config.networking.hostName}</title></head>
      <body><h1>Hello from ${config.networking.hostName}</h1><p>Deployed with nixos-fleet and Colmena.</p></body>
    </html>
  '';
in
{
  services.nginx = {
    enable = true;
    recommendedGzipSettings = true;
    recommendedOptimisation = true;
    virtualHosts.default = {
      default = true;
      root = page;
    };
  };

  networking.firewall.allowedTCPPorts = [ 80 ];
}
