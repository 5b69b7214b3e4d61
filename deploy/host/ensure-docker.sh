#!/usr/bin/env bash
# Make sure a Docker engine answers on this host: install Debian's engine if none is
# installed, start dockerd if none answers, and wait until `docker info` works.
# Idempotent: on a host whose engine already answers it does nothing.
set -euo pipefail

# Usage: ensure-docker.sh [--restart]
#   --restart: stop the dockerd this script started (by the PID it recorded) and start it again,
#              e.g. after a nvidia-container-runtime-hook was installed. A dockerd started by
#              anything else (systemd) is left alone. With live-restore (the default) the
#              running containers outlive the restart.
LOG=${LAUNCHER_DOCKERD_LOG:-/var/log/launcher-dockerd.log}
PIDFILE=${LAUNCHER_DOCKERD_PIDFILE:-/run/launcher-dockerd.pid}
WAIT_S=${LAUNCHER_DOCKERD_WAIT_S:-90}

if [ "${1:-}" = "--restart" ] && [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dockerd ]; then
        echo "==> Restarting the dockerd this script started (PID $pid)"
        kill "$pid"
        for _ in $(seq 1 60); do [ -d /proc/"$pid" ] || break; sleep 0.5; done
    fi
    rm -f "$PIDFILE"
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "No Docker engine answers and this script is not running as root." >&2
    echo "Start Docker (or run as root so that it can be installed and started), then try again." >&2
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
    echo "==> Installing Debian's Docker engine (docker.io)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "==> Starting dockerd (log: $LOG)"
    # The hook directory is first on dockerd's PATH, so that a nvidia-container-runtime-hook
    # placed there (the real one on GPU hosts, a test double elsewhere) is found by the engine.
    HOOK_DIR=${LAUNCHER_HOOK_DIR:-/usr/local/lib/launcher/hooks}
    mkdir -p "$HOOK_DIR"
    # live-restore: the engine's own restart (a security update of docker.io) leaves the
    # students' containers running, and the hub finds them again (off with
    # LAUNCHER_DOCKERD_LIVE_RESTORE=0; a daemon.json that sets it is left to decide)
    FLAGS=()
    if [ "${LAUNCHER_DOCKERD_LIVE_RESTORE:-1}" = 1 ] \
        && ! grep -qs '"live-restore"' /etc/docker/daemon.json; then
        FLAGS+=(--live-restore)
    fi
    PATH="$HOOK_DIR:$PATH" nohup dockerd "${FLAGS[@]}" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
fi

for _ in $(seq 1 "$WAIT_S"); do
    if docker info >/dev/null 2>&1; then
        echo "==> Docker engine is up ($(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    sleep 1
done
echo "dockerd did not answer within ${WAIT_S}s; its log ($LOG) ends with:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
