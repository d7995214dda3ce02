#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12 machine.
# Idempotent: every step is skipped when its result is already present.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

WASM_BINDGEN_VERSION=0.2.130 # == wasm-bindgen pinned in ui/Cargo.toml and ui/Trunk.toml
TRUNK_VERSION=0.21.14        # trunk 0.22 needs a newer rustc than this machine has
TAURI_DRIVER_VERSION=2.1.0

APT_PKGS=(
  build-essential pkg-config libssl-dev libdbus-1-dev
  libwebkit2gtk-4.1-dev libsoup-3.0-dev librsvg2-dev libayatana-appindicator3-dev
  xvfb xauth dbus-x11 xdotool imagemagick
  webkit2gtk-driver chromium chromium-driver
  gnome-keyring libsecret-1-dev libsecret-tools keyutils
  postgresql-client
  python3-venv
)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing apt packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

have() { cargo install --list | grep "^$1 v$2:" >/dev/null; }
have wasm-bindgen-cli "$WASM_BINDGEN_VERSION" ||
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" # not --locked: its lockfile names a crate the registry lacks
have trunk "$TRUNK_VERSION" || cargo install trunk --version "$TRUNK_VERSION" --locked
have tauri-driver "$TAURI_DRIVER_VERSION" || cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked
echo "setup: toolchain ready"
cd "$(dirname "$0")/.."

# Python: the official LangGraph SDK for the compatibility tests (a venv outside the clone).
SDK_VENV="${ORRERY_SDK_VENV:-$HOME/.cache/orrery/venv-sdk}"
req="tests/sdk/python/requirements.txt"
stamp="$SDK_VENV/.requirements"
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
  python3 -m venv "$SDK_VENV"
  "$SDK_VENV/bin/pip" install -q -r "$req"
  cp "$req" "$stamp"
fi
echo "setup: Python SDK venv ready"

# Python: a real `langgraph dev` server (pinned) for testing the client and the app against it.
LGDEV_VENV="${ORRERY_LGDEV_VENV:-$HOME/.cache/orrery/venv-lgdev}"
req="tests/lgdev/requirements.txt"
stamp="$LGDEV_VENV/.requirements"
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
  python3 -m venv "$LGDEV_VENV"
  "$LGDEV_VENV/bin/pip" install -q -r "$req"
  cp "$req" "$stamp"
fi
echo "setup: langgraph dev venv ready"

# Node: the official JS SDK for the compatibility tests (installed from the committed lock file).
if [ ! -d tests/sdk/js/node_modules/@langchain/langgraph-sdk ] || [ tests/sdk/js/package-lock.json -nt tests/sdk/js/node_modules ]; then
  (cd tests/sdk/js && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: JS SDK ready"

# The tests use the machine's PostgreSQL (127.0.0.1:5432, trust auth); start it if it is down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi
pg_isready -h 127.0.0.1 -p 5432 || echo "setup: WARNING: PostgreSQL is not reachable on 127.0.0.1:5432; the PostgreSQL tests will fail"
