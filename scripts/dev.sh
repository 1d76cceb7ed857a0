#!/usr/bin/env bash
# `npm run dev`: provisions what is missing, starts Postgres, Redis, the Temporal dev server
# (Web UI, SQLite persistence under .data/) and Synapse, migrates, runs worker and API, prints the URLs,
# and stops everything cleanly on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. scripts/services.sh

DATA="${MEETFLOW_DATA_DIR:-$PWD/.data}"
PG_PORT="${DEV_PG_PORT:-55432}"; REDIS_PORT="${DEV_REDIS_PORT:-56379}"
TEMPORAL_PORT="${DEV_TEMPORAL_PORT:-7233}"; TEMPORAL_UI_PORT="${DEV_TEMPORAL_UI_PORT:-8233}"
SYNAPSE_PORT="${DEV_SYNAPSE_PORT:-8008}"
export PORT="${PORT:-3000}"
mkdir -p "$DATA"; chmod 755 "$DATA"

TEMPORAL_PID=""; APP_PIDS=()
cleanup() {
  echo "[dev] stopping" >&2
  for pid in "${APP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${APP_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$TEMPORAL_PID" ] && kill "$TEMPORAL_PID" 2>/dev/null && wait "$TEMPORAL_PID" 2>/dev/null
  bash scripts/synapse.sh stop "$DATA/synapse"
  stop_postgres "$DATA/pg"; stop_redis "$DATA/redis"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

start_postgres "$DATA/pg" "$PG_PORT"
start_redis "$DATA/redis" "$REDIS_PORT"
start_temporal "$DATA/temporal.db" "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$DATA/temporal.log"
# shellcheck disable=SC2046  # prints MATRIX_HOMESERVER_URL=… MATRIX_ACCESS_TOKEN=…
export $(bash scripts/synapse.sh start "$DATA/synapse" "$SYNAPSE_PORT")

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:$PG_PORT/meetflow}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}"
export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://127.0.0.1:$TEMPORAL_UI_PORT}"

node src/db/migrate.ts
node src/worker/main.ts & APP_PIDS+=($!)
node src/api/main.ts & APP_PIDS+=($!)
wait_for 60 api curl -sf "http://127.0.0.1:$PORT/health/live"

cat <<MSG

  meetflow is up (Ctrl-C stops everything)
    API           http://127.0.0.1:$PORT
    API docs      http://127.0.0.1:$PORT/docs   (OpenAPI: /openapi.json)
    readiness     http://127.0.0.1:$PORT/health/ready
    Temporal UI   $TEMPORAL_UI_URL
    Matrix        $MATRIX_HOMESERVER_URL  (Synapse; bot token in .data/synapse/bot.token)
    operator JWT  npm run token -- --sub <user id> --role admin

MSG
# If the worker or the API dies, stop the whole stack rather than run half of it.
wait -n "${APP_PIDS[@]}"
echo "[dev] a process exited; stopping the stack" >&2
exit 1
