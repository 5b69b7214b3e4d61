#!/usr/bin/env bash
# All set-up for `make up` / `make test` on a Debian/Ubuntu host, idempotent:
# system packages, Docker engine, Python environment, proxy, teaching image(s), and with --test
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

# --- system packages ---------------------------------------------------------------------------
command -v python3 >/dev/null || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v npm >/dev/null || apt_install nodejs npm
command -v debootstrap >/dev/null || apt_install debootstrap
[ $WITH_TEST = 1 ] && { [ -x /usr/bin/chromium ] || apt_install chromium; }

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

# --- the proxy (configurable-http-proxy, from npm) ---------------------------------------------
if [ ! -x node_modules/.bin/configurable-http-proxy ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "Installing configurable-http-proxy"
    npm ci --no-audit --no-fund --loglevel=error
fi

# --- teaching images used by the demo site file ------------------------------------------------
for tag in ${LAUNCHER_IMAGE_TAGS:-2.13-cpu}; do
    bash images/build.sh "$tag"
done
say "Set-up complete"
