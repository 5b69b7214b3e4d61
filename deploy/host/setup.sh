#!/usr/bin/env bash
# All set-up for `make up` / `make test` on a Debian/Ubuntu host, idempotent: system packages,
# Docker engine, Python environment, Node.js and the proxy, teaching image(s), and with --test
# the browser for the browser tier. A second run reuses everything that is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."

WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1
VENV=${LAUNCHER_VENV:-.venv}
APT_UPDATED=0

say() { echo "==> $*"; }

apt_install() {
    # apt_install PACKAGE... : install the Debian packages that are missing
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "Missing Debian packages: ${missing[*]}; install them (as root) and run again." >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ $APT_UPDATED = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
    say "Installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_test_registry() {
    # Debian's docker-registry (/usr/bin/docker-registry) for tests/registry.py, which serves
    # its own config on a random 127.0.0.1 port. The package's own service (all interfaces,
    # :5000, htpasswd config) is not wanted: stop it and keep it from starting at boot.
    apt_install docker-registry
    if [ -d /run/systemd/system ]; then
        systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/docker-registry ]; then
        /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
        update-rc.d docker-registry disable >/dev/null 2>&1 || true
    fi
}

install_test_caddy() {
    apt_install caddy
    if [ -d /run/systemd/system ]; then
        systemctl disable --now caddy.service >/dev/null 2>&1 || true
    fi
}

# --- system packages ---------------------------------------------------------------------------
command -v python3 >/dev/null || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v debootstrap >/dev/null || apt_install debootstrap
[ $WITH_TEST = 1 ] && { [ -x /usr/bin/chromium ] || apt_install chromium; }
# a Chinese font, so that the browser tests' screenshots of the zh-CN pages show characters
[ $WITH_TEST = 1 ] && { [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || apt_install fonts-wqy-microhei; }
[ $WITH_TEST = 1 ] && { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql; }
[ $WITH_TEST = 1 ] && { command -v docker-registry >/dev/null || install_test_registry; }
# iproute2's ip, for the test swarm's links between its nodes' namespaces (tests/swarm.py)
[ $WITH_TEST = 1 ] && { command -v ip >/dev/null || apt_install iproute2; }
# Caddy, the production install's HTTPS (tests/integration/test_production.py runs it on a
# private port); the package's own service (port 80, /etc/caddy/Caddyfile) is not wanted here
[ $WITH_TEST = 1 ] && { command -v caddy >/dev/null || install_test_caddy; }

# --- GPUs without a GPU (tests only) -----------------------------------------------------------
# On a host without NVIDIA's hook, a test double of nvidia-container-runtime-hook goes on
# dockerd's PATH so that the engine accepts real GPU DeviceRequests (see tests/fakes/).
FAKE_GPU=0
if [ $WITH_TEST = 1 ] && ! PATH="$PATH:/usr/bin:/usr/local/bin" command -v nvidia-container-runtime-hook >/dev/null; then
    FAKE_GPU=1
    install -D -m 0755 tests/fakes/nvidia-container-runtime-hook \
        /usr/local/lib/launcher/hooks/nvidia-container-runtime-hook
    mkdir -p /run/launcher-fake-gpu
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["gpus"]; print("\n".join([x["uuid"] for x in g] + [str(x["index"]) for x in g] + [m["uuid"] for x in g for m in x.get("mig", [])]))' \
        tests/fakes/gpus.json >/run/launcher-fake-gpu/devices
fi

# --- Docker engine -----------------------------------------------------------------------------
bash deploy/host/ensure-docker.sh

# --- Python environment ------------------------------------------------------------------------
stamp="$VENV/.launcher-installed-$(cat pyproject.toml | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    say "Creating the Python environment in $VENV"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e '.[test]'
    rm -f "$VENV"/.launcher-installed-*
    touch "$stamp"
fi

# --- Node.js for the proxy: the host's if new enough, else from PyPI into the environment ---------
bash deploy/host/ensure-node.sh "$VENV"
export PATH="$PWD/$VENV/bin:$PATH"

# --- the proxy (configurable-http-proxy, from npm) ---------------------------------------------
if [ ! -x node_modules/.bin/configurable-http-proxy ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "Installing configurable-http-proxy"
    npm ci --no-audit --no-fund --loglevel=error
fi

# --- the test identity provider (npm oidc-provider, for the sign-in tests) ----------------------
if [ $WITH_TEST = 1 ] && { [ ! -d tests/idp/node_modules/oidc-provider ] || [ tests/idp/package-lock.json -nt tests/idp/node_modules/.package-lock.json ]; }; then
    say "Installing the test identity provider (oidc-provider)"
    (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- teaching images used by the demo site file ------------------------------------------------
for tag in ${LAUNCHER_IMAGE_TAGS:-2.13-cpu}; do
    # the debootstrapped base: set-up asks no registry (there may be none, and tests reach none)
    bash images/build.sh "$tag" --base launcher-base:bookworm
done
# --- the engine must accept GPU device requests for the GPU tests ------------------------------
if [ $FAKE_GPU = 1 ]; then
    probe() { docker run --rm --gpus device=0 launcher/pytorch:2.13-cpu true >/dev/null 2>&1; }
    if ! probe; then
        bash deploy/host/ensure-docker.sh --restart
        probe || { echo "The Docker engine does not accept GPU device requests even with the" \
            "test hook on its PATH; was dockerd started by something else (systemd)?" >&2; exit 1; }
    fi
fi
say "Set-up complete"
