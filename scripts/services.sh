#!/usr/bin/env bash
# Start/stop helpers for the real services (sourced by dev.sh and test.sh after setup.sh).
# Every service gets its own port and data folder, so a test run never clashes with a dev stack.

# N distinct free ports on one line (below the ephemeral range: see scripts/free-ports.ts).
free_ports() { node scripts/free-ports.ts "$1"; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "timed out waiting for $what" >&2; return 1; fi
    sleep 0.2
  done
}

# From / : the postgres user may not be able to enter the current folder (a private checkout).
as_postgres() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# The folder the cluster really lives in. Postgres runs as the `postgres` user, which cannot reach
# a folder under a private home (e.g. a checkout in /root, mode 700): then the cluster lives under
# /var/lib/postgresql/meetflow/<hash of the wanted path>, one per wanted path, kept across runs.
pg_data_dir() {
  local dir=$1
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] || { echo "$dir"; return; }
  chown postgres "$dir"
  if runuser -u postgres -- test -w "$dir" 2>/dev/null; then echo "$dir"; return; fi
  local hash; hash=$(readlink -f "$dir" | sha256sum | cut -c1-16)
  local alt="/var/lib/postgresql/meetflow/$hash"
  mkdir -p "$alt"; chown postgres "$(dirname "$alt")" "$alt"; chmod 700 "$alt"
  echo "$alt"
}

start_postgres() { # start_postgres DIR PORT  (Postgres refuses to run as root)
  local dir; dir=$(pg_data_dir "$1"); local port=$2
  [ "$dir" = "$1" ] || echo "[services] $1 is out of the postgres user's reach: the cluster lives in $dir" >&2
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  fi
  as_postgres "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=${PG_FSYNC:-on}" >/dev/null
  "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='meetflow'" | grep -q 1 \
    || "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres meetflow
}

stop_postgres() {
  local dir; dir=$(pg_data_dir "$1")
  [ -f "$dir/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

start_redis() { # start_redis DIR PORT
  mkdir -p "$1"
  redis-server --bind 127.0.0.1 --port "$2" --dir "$1" --save "" --appendonly no \
    --daemonize yes --pidfile "$1/redis.pid" --logfile "$1/redis.log"
  wait_for 20 redis redis-cli -p "$2" ping
}

stop_redis() { # waits for it to exit: it writes its last log line on the way out (into a folder being removed)
  [ -f "$1/redis.pid" ] || return 0
  local pid; pid=$(cat "$1/redis.pid")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

SEARCH_ATTRIBUTES=(--search-attribute MeetflowOperation=Keyword --search-attribute MeetflowEntity=Keyword)
# The dev server (one history shard) runs with the compose stack's dynamic config, which says why:
# each `key:` / `  - value: V` pair there becomes a --dynamic-config-value flag.
DYNAMIC_CONFIG=()
while read -r key value; do DYNAMIC_CONFIG+=(--dynamic-config-value "$key=$value"); done < <(
  awk '/^[a-zA-Z][^ ]*:$/ { key = substr($0, 1, length($0) - 1) } /^  - value: / { print key, $3 }' \
    "$(dirname "${BASH_SOURCE[0]}")/../deploy/temporal/dynamicconfig.yaml")
CONTRACT_NAMESPACE=contract

start_temporal() { # start_temporal DBFILE GRPC_PORT UI_PORT HTTP_PORT METRICS_PORT LOGFILE [extra flags]
  local db=$1 port=$2 ui=$3 http=$4 metrics=$5 logf=$6; shift 6
  temporal server start-dev --ip 127.0.0.1 --port "$port" --ui-port "$ui" --db-filename "$db" \
    --http-port "$http" --metrics-port "$metrics" --log-level warn \
    "${SEARCH_ATTRIBUTES[@]}" "${DYNAMIC_CONFIG[@]}" "$@" >"$logf" 2>&1 &
  TEMPORAL_PID=$!
  local deadline=$((SECONDS + 90))
  until temporal operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; do
    if ! kill -0 "$TEMPORAL_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "temporal dev server did not start on port $port; its log:" >&2; tail -n 20 "$logf" >&2; return 1
    fi
    sleep 0.2
  done
}

# Starts Postgres, Redis, a headless Temporal dev server and Synapse on free ports under a fresh
# temp folder, exports their URLs (DATABASE_URL, REDIS_URL, TEMPORAL_ADDRESS,
# MATRIX_HOMESERVER_URL, MATRIX_ACCESS_TOKEN), and stops them all on exit.
start_throwaway_services() {
  RUN=$(mktemp -d /tmp/meetflow-run.XXXXXX)
  chmod 755 "$RUN"
  TEMPORAL_PID=""
  trap stop_throwaway_services EXIT
  trap 'exit 130' INT TERM
  local pg redis temporal ui http metrics synapse
  read -r pg redis temporal ui http metrics synapse < <(free_ports 7)
  echo "[services] under $RUN: postgres :$pg, redis :$redis, temporal :$temporal, synapse :$synapse" >&2
  PG_FSYNC=off start_postgres "$RUN/pg" "$pg"
  start_redis "$RUN/redis" "$redis"
  # `contract`: the namespace of the contract run (scripts/fuzz-api.sh), created with the search attributes.
  start_temporal "$RUN/temporal.db" "$temporal" "$ui" "$http" "$metrics" "$RUN/temporal.log" --headless \
    --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=OFF --namespace "$CONTRACT_NAMESPACE"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg/meetflow"
  export REDIS_URL="redis://127.0.0.1:$redis"
  export TEMPORAL_ADDRESS="127.0.0.1:$temporal"
  # shellcheck disable=SC2046  # prints MATRIX_HOMESERVER_URL=… MATRIX_ACCESS_TOKEN=…
  export $(bash scripts/synapse.sh start "$RUN/synapse" "$synapse")
  export MATRIX_HOMESERVER_CONFIG="$RUN/synapse/homeserver.yaml" # for the bot registration test
  # What the run's processes leave in the temp folder (workflow bundles, the PDS data of each
  # @atproto/dev-env network, scratch files) goes with the run: a long-lived CI machine keeps none.
  export TMPDIR="$RUN/tmp"; mkdir -p "$TMPDIR"
}

stop_throwaway_services() {
  set +e # on the way out every step runs, whatever the one before answered (a killed process's status is not 0)
  for pid in ${APP_PIDS[@]+"${APP_PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [ -n "$TEMPORAL_PID" ] && kill "$TEMPORAL_PID" 2>/dev/null && wait "$TEMPORAL_PID" 2>/dev/null
  bash scripts/synapse.sh stop "$RUN/synapse"
  stop_postgres "$RUN/pg"; stop_redis "$RUN/redis"
  rm -rf "$RUN"
}
