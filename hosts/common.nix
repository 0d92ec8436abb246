# The base of every host: imported by the hive's `defaults` (nix/hive.nix), before the
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

  # What nixos-infect's /etc/nixos/configuration.nix set, and the hive would
  # otherwise drop (it replaces that file; hardware-configuration.nix and
  # networking.nix come along as hosts/<name>/):
  # - /tmp emptied at boot: kept (nothing should rely on /tmp surviving).
  boot.tmp.cleanOnBoot = lib.mkDefault true;
  # - zram swap: kept. Small cloud servers have no swap partition, and zram
  #   gives them some headroom for builds and `colmena apply` (a host whose
  #   disk had a swap partition gets swapDevices from its hardware-configuration.nix).
  zramSwap.enable = lib.mkDefault true;
  # - networking.hostName: set by the hive from the host's name.
  # - networking.domain: dropped (cloud hosts have none); set it per host if you use one.
  # - services.openssh and root's authorized keys: above, and from main.ts's adminSshKeys.
  # - system.stateVersion: set per host by the hive (nix/hive.nix) to the
  #   release of the channel the host was installed from, not the "23.11"
  #   nixos-infect writes: the first boot runs only a minimal system, and the
  #   stateful services (PostgreSQL's data directory format, ...) first start
  #   under the hive's configuration. Never raise it on a running host; a host
  #   may set its own value in hosts/<name>.nix (or `stateVersion` in main.ts).
}
