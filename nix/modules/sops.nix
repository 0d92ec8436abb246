# sops-nix for a host that has secrets (secrets/<name>.yaml): the sops-nix
# NixOS module at the revision pinned in sops-nix.json ({ "rev", "sha256" }),
# and the host's secrets file, decrypted on the host with its SSH host key
# (its age recipient is derived from that key: `npm run secrets:recipients`).
# Only hosts with secrets fetch sops-nix.
#
# Usage: import ./sops.nix { pin = ./sops-nix.json; secretsFile = ./secrets/web-1.yaml; }
# returns a list of modules for `imports`.
{ pin, secretsFile }:
let
  sopsNix =
    if builtins.pathExists pin then
      let p = builtins.fromJSON (builtins.readFile pin); in
      builtins.fetchTarball {
        url = "https://github.com/Mic92/sops-nix/archive/${p.rev}.tar.gz";
        sha256 = p.sha256;
      }
    else
      throw ("nixos-fleet: " + toString secretsFile + " exists but " + toString pin
        + " (the sops-nix pin: { \"rev\": ..., \"sha256\": ... }) is missing; restore it from the template");
in
[
  (sopsNix + "/modules/sops")
  {
    sops.defaultSopsFile = secretsFile;
    sops.age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
  }
]
