#!/usr/bin/env bash
# Build one teaching image from images/matrix.yaml and smoke-test it.
#
#   bash images/build.sh TAG [options]        e.g.  bash images/build.sh 2.13-cpu
#
# Options:
#   --image-repo REPO     image name without tag (default: launcher/pytorch) -> REPO:TAG
#   --base IMAGE          base image (default: the matrix entry's `base`)
#   --apt-mirror URL      Debian mirror replacing http://deb.debian.org (e.g. http://ftp.example.edu)
#   --pip-index-url URL   package index replacing PyPI (a campus mirror)
#   --find-links DIR      directory of wheels pip may use; repeatable. Every *.whl in it is
#                         put into the build context. Default: the torch-VERSION wheels (only
#                         those; for a CPU tag only torch-VERSION+cpu) of the local wheel
#                         directories /opt/wheels and /opt/pypi-more/files, where they exist.
#   --no-local-wheels     do not look in the local wheel directories (build as a host without
#                         them would)
#   --torch-index URL     package index for torch, replacing the matrix entry's index_url (e.g.
#                         a campus mirror of https://download.pytorch.org/whl/cpu). Asked only
#                         when no local torch wheel was found, and only if it answers.
#   --extra-ca FILE       PEM bundle of extra CAs trusted in the build and in the image
#                         (TLS-intercepting proxies). Default: $LAUNCHER_EXTRA_CA_BUNDLE, else
#                         /etc/ssl/certs/ca-certificates.crt when it exists. --extra-ca '' : none.
#   --push REGISTRY       also tag REGISTRY/REPO:TAG and push it
#   --force               rebuild even if REPO:TAG exists locally
#
# Where torch comes from: a local torch wheel when there is one (preferred: nothing to
# download), else the torch index (when it answers from this host), else the package index.
# A CPU tag installs torch==VERSION+cpu and nothing else: when no source has that build, the
# build stops with a sentence saying where it looked, never falling back to PyPI's CUDA build
# (several GB). The build runs on the host's network (--network host), so indexes and
# mirrors on 127.0.0.1 work.
# Idempotent: an existing REPO:TAG is kept (and pushed, with --push) unless --force.
# When the base image is neither local nor pullable (no registry), a Debian bookworm base is
# bootstrapped with debootstrap and imported as launcher-base:bookworm (reused afterwards;
# LAUNCHER_BOOTSTRAP_IMAGE names it otherwise). `--base launcher-base:bookworm` bootstraps it
# without trying any registry first (what `make up` / `make test` do: they contact none).
# jupyterhub-singleuser gets the hub's version: $LAUNCHER_JUPYTERHUB_VERSION, else the
# jupyterhub== pin of ../pyproject.toml, else the Dockerfile default; $LAUNCHER_JUPYTERLAB_VERSION
# overrides the JupyterLab version.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MATRIX=$HERE/matrix.yaml
BOOTSTRAP_IMAGE=${LAUNCHER_BOOTSTRAP_IMAGE:-launcher-base:bookworm}
START=$(date +%s)

say() { printf '==> %s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

# ---------------------------------------------------------------------------- arguments
TAG=""
IMAGE_REPO=launcher/pytorch
BASE=""
APT_MIRROR=""
PIP_INDEX=""
FIND_LINKS=()
LOCAL_WHEELS=1
TORCH_INDEX_SET=0
TORCH_INDEX_ARG=""
EXTRA_CA_SET=0
EXTRA_CA=""
PUSH=""
FORCE=0

need_arg() { [ $# -ge 2 ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case $1 in
        --image-repo) need_arg "$@"; IMAGE_REPO=$2; shift 2 ;;
        --base) need_arg "$@"; BASE=$2; shift 2 ;;
        --apt-mirror) need_arg "$@"; APT_MIRROR=$2; shift 2 ;;
        --pip-index-url) need_arg "$@"; PIP_INDEX=$2; shift 2 ;;
        --find-links) need_arg "$@"; FIND_LINKS+=("$2"); shift 2 ;;
        --no-local-wheels) LOCAL_WHEELS=0; shift ;;
        --torch-index) need_arg "$@"; TORCH_INDEX_ARG=$2; TORCH_INDEX_SET=1; shift 2 ;;
        --extra-ca) need_arg "$@"; EXTRA_CA=$2; EXTRA_CA_SET=1; shift 2 ;;
        --push) need_arg "$@"; PUSH=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [ -z "$TAG" ] || die "only one TAG, got '$TAG' and '$1'"; TAG=$1; shift ;;
    esac
done
[ -n "$TAG" ] || { usage >&2; exit 2; }

# ---------------------------------------------------------------------------- matrix entry
# The entry TAG as KEY=VALUE lines (null: empty), read by the launcher's own matrix loader
# (launcher/images/matrix.py, the one reader of matrix.yaml): with the repository's Python
# environment when there is one, else with a python3 that has PyYAML.
PYTHON=${LAUNCHER_PYTHON:-}
if [ -z "$PYTHON" ]; then
    for candidate in "$HERE/../.venv/bin/python" python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' 2>/dev/null; then
            PYTHON=$candidate
            break
        fi
    done
fi
[ -n "$PYTHON" ] || die "reading $MATRIX needs Python with PyYAML: run \`make setup\` (it makes .venv), or apt-get install python3-yaml"
ENTRY=$(PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m launcher.images.matrix "$TAG" "$MATRIX") ||
    die "$ENTRY ($MATRIX)"
field() { printf '%s\n' "$ENTRY" | sed -n "s/^$1=//p"; }
TORCH_VERSION=$(field torch)
PYTHON_VERSION=$(field python)
CUDA_VERSION=$(field cuda)
CUDNN_VERSION=$(field cudnn)
CUDA_ARCH_LIST=$(field cuda_arch_list)
MIN_DRIVER=$(field min_driver)
MATRIX_BASE=$(field base)
TORCH_INDEX_URL=$(field index_url)
[ "$TORCH_INDEX_SET" = 0 ] || TORCH_INDEX_URL=$TORCH_INDEX_ARG
[ -n "$TORCH_VERSION" ] || die "matrix entry $TAG has no torch version"
# A CPU tag takes the +cpu build only: PyPI's plain torch==VERSION is the CUDA build.
if [ -n "$CUDA_VERSION" ]; then TORCH_REQUIREMENT="torch==$TORCH_VERSION"; TORCH_GLOB="torch-$TORCH_VERSION[-+]*.whl"
else TORCH_REQUIREMENT="torch==$TORCH_VERSION+cpu"; TORCH_GLOB="torch-$TORCH_VERSION+cpu-*.whl"; fi
BASE=${BASE:-${MATRIX_BASE:-debian:bookworm-slim}}
IMAGE=$IMAGE_REPO:$TAG
say "image $IMAGE: torch $TORCH_VERSION, python ${PYTHON_VERSION:-?}, cuda ${CUDA_VERSION:-none}, base $BASE"

push_image() {
    [ -n "$PUSH" ] || return 0
    local remote=${PUSH%/}/$IMAGE
    say "pushing $remote"
    docker tag "$IMAGE" "$remote"
    docker push "$remote"
}

# ---------------------------------------------------------------------------- engine, idempotence
if ! docker info >/dev/null 2>&1; then
    ensure=$HERE/../deploy/host/ensure-docker.sh
    [ -f "$ensure" ] || die "no Docker engine answers (docker info failed)"
    say "no Docker engine answers; running deploy/host/ensure-docker.sh"
    bash "$ensure"
fi

# The recipe: what the image is made from here (the Dockerfile, the smoke test, the
# entrypoint launcher-session, the matrix entry, the JupyterLab extension). An image of this
# tag made from another recipe is rebuilt, so that a machine that built it before a change to
# the image gets the change too.
RECIPE=$({ cat "$HERE/Dockerfile" "$HERE/smoke_test.py" "$HERE/launcher-session"; find "$HERE/labextension" -type f | LC_ALL=C sort | xargs cat; printf '%s\n' "$ENTRY"; } | sha256sum | cut -c1-16)
if [ "$FORCE" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    built=$(docker image inspect -f '{{ index .Config.Labels "io.launcher.recipe" }}' "$IMAGE" 2>/dev/null || true)
    if [ "$built" = "$RECIPE" ]; then
        say "$IMAGE already exists locally (recipe $RECIPE); nothing to build (use --force to rebuild)"
        push_image
        exit 0
    fi
    say "$IMAGE exists but was made from another recipe (${built:-none}, now $RECIPE: images/Dockerfile, smoke_test.py, launcher-session, labextension or its matrix entry changed); rebuilding"
fi

# ---------------------------------------------------------------------------- temp dirs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/launcher-image-build.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
CTX=$WORK/context
mkdir -p "$CTX/wheels"

# ---------------------------------------------------------------------------- base image
bootstrap_base() {
    if docker image inspect "$BOOTSTRAP_IMAGE" >/dev/null 2>&1; then
        say "using the existing bootstrapped base $BOOTSTRAP_IMAGE"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "bootstrapping $BOOTSTRAP_IMAGE needs root (debootstrap)"
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    local rootfs=$WORK/rootfs mirror=${APT_MIRROR:-http://deb.debian.org}
    mirror=${mirror%/}
    say "debootstrap --variant=minbase bookworm $rootfs ${mirror}/debian"
    debootstrap --variant=minbase bookworm "$rootfs" "${mirror}/debian" >"$WORK/debootstrap.log" 2>&1 || {
        tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # Same sources as debian:bookworm-slim; no downloaded packages or indexes in the layer.
    printf '%s\n' \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" \
        >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
    say "importing $rootfs as $BOOTSTRAP_IMAGE"
    tar --numeric-owner -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$BOOTSTRAP_IMAGE" >/dev/null
    rm -rf "$rootfs"
}

if docker image inspect "$BASE" >/dev/null 2>&1; then
    say "base image $BASE is present locally"
elif [ "$BASE" = "$BOOTSTRAP_IMAGE" ]; then
    # asked for the bootstrapped base itself: make it, without asking any registry
    bootstrap_base
elif say "pulling base image $BASE" && docker pull -q "$BASE" >"$WORK/pull.log" 2>&1; then
    say "pulled $BASE"
else
    say "cannot pull $BASE ($(tail -n 1 "$WORK/pull.log")); using a debootstrap bookworm base instead"
    bootstrap_base
    BASE=$BOOTSTRAP_IMAGE
fi

# ---------------------------------------------------------------------------- build context
# cp keeps launcher-session's executable mode, and COPY keeps it in the image
cp "$HERE/Dockerfile" "$HERE/smoke_test.py" "$HERE/launcher-session" "$CTX/"
cp -R "$HERE/labextension" "$CTX/labextension"

# Hard link when on the same filesystem (instant), else copy.
add_wheel() {
    local whl=$1 dest
    dest=$CTX/wheels/$(basename "$whl")
    [ -e "$dest" ] && return 0
    ln "$whl" "$dest" 2>/dev/null || cp "$whl" "$dest"
    say "  wheel $(basename "$whl") ($(du -h "$whl" | cut -f1))"
}
LOCAL_DIRS=(${LAUNCHER_LOCAL_WHEEL_DIRS:-/opt/wheels /opt/pypi-more/files})
shopt -s nullglob
if [ ${#FIND_LINKS[@]} -gt 0 ]; then
    for dir in "${FIND_LINKS[@]}"; do
        [ -d "$dir" ] || die "--find-links $dir is not a directory"
        say "wheels from $dir"
        for whl in "$dir"/*.whl; do add_wheel "$whl"; done
    done
    LOOKED="the --find-links directories (${FIND_LINKS[*]})"
elif [ "$LOCAL_WHEELS" = 1 ]; then
    for dir in "${LOCAL_DIRS[@]}"; do
        [ -d "$dir" ] || continue
        for whl in "$dir"/$TORCH_GLOB; do
            say "wheels from $dir"
            add_wheel "$whl"
        done
    done
    LOOKED="the local wheel directories (${LOCAL_DIRS[*]})"
else
    LOOKED="no local wheel directory (--no-local-wheels)"
fi
LOCAL_TORCH=$(cd "$CTX/wheels" && ls $TORCH_GLOB 2>/dev/null | head -n 1)
shopt -u nullglob

# ---------------------------------------------------------------------------- torch source
# Prints why URL cannot serve torch (nothing when its torch page answers 200).
index_problem() {
    python3 - "$1" <<'PY'
import sys, urllib.error, urllib.request
url = sys.argv[1].rstrip("/") + "/torch/"
try:
    urllib.request.urlopen(url, timeout=10).close()
except urllib.error.HTTPError as exc:
    print(f"has no torch (HTTP {exc.code} for {url})")
except Exception as exc:  # noqa: BLE001 - any failure: the index is not used
    print(f"does not answer from this host ({getattr(exc, 'reason', exc)})")
PY
}
INDEX_NOTE="no torch index"
if [ -n "$LOCAL_TORCH" ]; then
    say "torch from the local wheel $LOCAL_TORCH (no torch index asked)"
    [ -z "$TORCH_INDEX_URL" ] || INDEX_NOTE="the torch index $TORCH_INDEX_URL (not asked)"
    TORCH_INDEX_URL=""
elif [ -n "$TORCH_INDEX_URL" ]; then
    problem=$(index_problem "$TORCH_INDEX_URL")
    if [ -n "$problem" ]; then
        say "the torch index $TORCH_INDEX_URL $problem: not used"
        INDEX_NOTE="the torch index $TORCH_INDEX_URL, which $problem"
        TORCH_INDEX_URL=""
    else
        say "torch ($TORCH_REQUIREMENT) from the torch index $TORCH_INDEX_URL"
        INDEX_NOTE="the torch index $TORCH_INDEX_URL"
    fi
fi
[ -n "$LOCAL_TORCH" ] || [ -n "$TORCH_INDEX_URL" ] || \
    say "no local torch wheel and no torch index: $TORCH_REQUIREMENT comes from ${PIP_INDEX:-PyPI}"

if [ "$EXTRA_CA_SET" = 0 ]; then
    if [ -n "${LAUNCHER_EXTRA_CA_BUNDLE:-}" ]; then
        EXTRA_CA=$LAUNCHER_EXTRA_CA_BUNDLE
    elif [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        EXTRA_CA=/etc/ssl/certs/ca-certificates.crt
    fi
fi
if [ -n "$EXTRA_CA" ]; then
    [ -f "$EXTRA_CA" ] || die "extra CA bundle $EXTRA_CA does not exist"
    cp "$EXTRA_CA" "$CTX/extra-ca.pem"
    say "extra CA bundle: $EXTRA_CA ($(grep -c 'BEGIN CERTIFICATE' "$EXTRA_CA" || true) certificates)"
else
    : >"$CTX/extra-ca.pem"
    say "extra CA bundle: none"
fi

# ---------------------------------------------------------------------------- build
BUILD_ARGS=(
    --build-arg "BASE_IMAGE=$BASE"
    --build-arg "TORCH_VERSION=$TORCH_VERSION"
    --build-arg "TORCH_REQUIREMENT=$TORCH_REQUIREMENT"
    --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL"
    --build-arg "PIP_INDEX_URL=$PIP_INDEX"
    --build-arg "APT_MIRROR=$APT_MIRROR"
    --build-arg "PYTHON_VERSION=${PYTHON_VERSION:-3.11}"
    --build-arg "CUDA_VERSION=$CUDA_VERSION"
    --build-arg "CUDNN_VERSION=$CUDNN_VERSION"
    --build-arg "CUDA_ARCH_LIST=$CUDA_ARCH_LIST"
    --build-arg "MIN_DRIVER=$MIN_DRIVER"
    --build-arg "IMAGE_TAG=$TAG"
    --build-arg "IMAGE_CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    --label "io.launcher.recipe=$RECIPE"
)
# jupyterhub-singleuser must be the hub's version: LAUNCHER_JUPYTERHUB_VERSION if set, else
# the pin in the project's pyproject.toml, else the Dockerfile's default.
HUB_VERSION=${LAUNCHER_JUPYTERHUB_VERSION:-}
if [ -z "$HUB_VERSION" ] && [ -f "$HERE/../pyproject.toml" ]; then
    HUB_VERSION=$(sed -n 's/^[[:space:]]*"jupyterhub==\([^"]*\)".*/\1/p' "$HERE/../pyproject.toml" | head -n 1)
fi
[ -z "$HUB_VERSION" ] || BUILD_ARGS+=(--build-arg "JUPYTERHUB_VERSION=$HUB_VERSION")
[ -z "${LAUNCHER_JUPYTERLAB_VERSION:-}" ] || BUILD_ARGS+=(--build-arg "JUPYTERLAB_VERSION=$LAUNCHER_JUPYTERLAB_VERSION")

say "DOCKER_BUILDKIT=0 docker build --network host --force-rm -t $IMAGE ${BUILD_ARGS[*]} $CTX"
if ! DOCKER_BUILDKIT=0 docker build --network host --force-rm -t "$IMAGE" "${BUILD_ARGS[@]}" "$CTX" 2>&1 |
    tee "$WORK/build.log"; then
    if grep -q "No matching distribution found for torch==" "$WORK/build.log"; then
        if [ -n "$CUDA_VERSION" ]; then what="torch $TORCH_VERSION"; else
            what="a CPU build of torch $TORCH_VERSION ($TORCH_REQUIREMENT; the plain torch==$TORCH_VERSION on PyPI is the CUDA build, several GB, which a CPU image never installs)"; fi
        die "no source has $what. Looked in: $LOOKED; $INDEX_NOTE; and ${PIP_INDEX:-PyPI}. Give one with --torch-index URL (the index of the matrix entry, or a campus mirror of it) or --find-links DIR (a folder holding torch-$TORCH_VERSION$([ -n "$CUDA_VERSION" ] || echo +cpu)-cp${PYTHON_VERSION/./}-*.whl)."
    fi
    die "docker build of $IMAGE failed (its output is above)"
fi

# ---------------------------------------------------------------------------- smoke test
# as the hub runs a student's container: its user, no capabilities, no privilege escalation
SMOKE=(docker run --rm --user 1000:100 --cap-drop ALL --security-opt no-new-privileges:true
    "$IMAGE" python /usr/local/share/launcher/smoke_test.py)
say "smoke test: ${SMOKE[*]}"
if ! "${SMOKE[@]}"; then
    # Untag it (layers stay cached) so that a rerun does not take it for a finished image.
    docker rmi --no-prune "$IMAGE" >/dev/null 2>&1 || true
    die "smoke test failed for $IMAGE; the tag was removed"
fi

push_image

SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE")
say "built $IMAGE: $((SIZE / 1000000)) MB, $(( $(date +%s) - START )) s"
