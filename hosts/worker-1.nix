# worker-1: a small background job, as a starting point for your own.
# A systemd timer runs a one-shot job every 15 minutes as an unprivileged
# dynamic user; its output goes to the journal (journalctl -u heartbeat).
{ config, lib, pkgs, ... }:
{
  systemd.services.heartbeat = {
    description = "Example job: log that the worker is alive";
    serviceConfig = {
      Type = "oneshot";
      DynamicUser = true;
    };
    path = [ pkgs.coreutils pkgs.procps ];
    script = ''
      echo "heartbeat from ${config.networking.hostName}: $(uptime)"
    '';
  };

  systemd.timers.heartbeat = {
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnBootSec = "5min";
      OnUnitActiveSec = "15min";
    };
  };
}
