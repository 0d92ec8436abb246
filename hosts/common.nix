# The base of every host: imported by hive.nix's `defaults`, before the
# host's own module (hosts/<name>.nix). Keep it small and safe to change.
{ config, lib, pkgs, ... }:
{
  # SSH is the only way in (Colmena, you): keys only, root by key only.
  services.openssh = {
    enable = true;
    openFirewall = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "prohibit-password";
    };
  };

  # Deny inbound by default; hosts open what they serve (see hosts/web-1.nix).
  # The cloud firewalls (main.ts) filter in front of this one.
  networking.firewall.enable = true;

  # Keep the disk from filling with old generations.
  nix.gc = {
    automatic = true;
    dates = "weekly";
    options = "--delete-older-than 30d";
  };
  nix.settings.auto-optimise-store = true;

  time.timeZone = "UTC";

  environment.systemPackages = with pkgs; [
    curl
    git
    htop
    jq
    tmux
    vim
  ];

  # The NixOS release the hosts were FIRST installed with (the fleet's
  # nixChannel when `cdktf deploy` ran nixos-infect), not the release they run.
  # Stateful services (PostgreSQL's data directory format, state paths, ...)
  # choose their on-disk formats from it; changing it on a running host can
  # make them unable to read their own data. Do not raise it when you upgrade
  # nixpkgs. A host installed later from a newer channel can set its own value
  # in hosts/<name>.nix (this one is only a default).
  system.stateVersion = lib.mkDefault "26.05";
}
