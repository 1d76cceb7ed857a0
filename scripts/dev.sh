#!/usr/bin/env bash
# `npm run dev`: provisions what is missing, starts Postgres, Redis, the Temporal dev server
# (Web UI, SQLite persistence under .data/) and Synapse, migrates, runs worker, API and firehose
# consumer, prints the URLs, and stops everything cleanly on Ctrl-C.
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

# Another stack (or anything else) on our ports: say so and touch nothing of it.
for port in "$PG_PORT" "$REDIS_PORT" "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$SYNAPSE_PORT" "$PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "[dev] port $port is already in use (is another 'npm run dev' running?); nothing started" >&2
    exit 1
  fi
done

TEMPORAL_PID=""; APP_PIDS=(); STARTED=()
cleanup() {
  echo "[dev] stopping" >&2
  for pid in ${APP_PIDS[@]+"${APP_PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in ${APP_PIDS[@]+"${APP_PIDS[@]}"}; do wait "$pid" 2>/dev/null || true; done
  [ -n "$TEMPORAL_PID" ] && kill "$TEMPORAL_PID" 2>/dev/null && wait "$TEMPORAL_PID" 2>/dev/null
  # Only what this run started.
  [[ " ${STARTED[*]} " == *" synapse "* ]] && bash scripts/synapse.sh stop "$DATA/synapse"
  [[ " ${STARTED[*]} " == *" redis "* ]] && stop_redis "$DATA/redis"
  [[ " ${STARTED[*]} " == *" postgres "* ]] && stop_postgres "$DATA/pg"
  return 0
}
trap cleanup EXIT
trap 'exit 0' INT TERM

STARTED+=(postgres); start_postgres "$DATA/pg" "$PG_PORT"
STARTED+=(redis); start_redis "$DATA/redis" "$REDIS_PORT"
read -r TEMPORAL_HTTP_PORT TEMPORAL_METRICS_PORT < <(free_ports 2)
start_temporal "$DATA/temporal.db" "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$TEMPORAL_HTTP_PORT" "$TEMPORAL_METRICS_PORT" "$DATA/temporal.log"
STARTED+=(synapse)
# shellcheck disable=SC2046  # prints MATRIX_HOMESERVER_URL=… MATRIX_ACCESS_TOKEN=…
export $(bash scripts/synapse.sh start "$DATA/synapse" "$SYNAPSE_PORT")

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:$PG_PORT/meetflow}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}"
export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://127.0.0.1:$TEMPORAL_UI_PORT}"

read -r WORKER_HEALTH_PORT < <(free_ports 1); export WORKER_HEALTH_PORT
node src/db/migrate.ts
node src/worker/main.ts & APP_PIDS+=($!)
node src/api/main.ts & APP_PIDS+=($!)
node src/firehose/main.ts & APP_PIDS+=($!)
wait_for 60 api curl -sf "http://127.0.0.1:$PORT/health/live"
# "Up" means the worker polls (its bundle takes a while on a slow machine).
wait_for 300 "the worker to poll" curl -sf "http://127.0.0.1:$WORKER_HEALTH_PORT/health/ready"

cat <<MSG

  meetflow is up (Ctrl-C stops everything)
    API           http://127.0.0.1:$PORT
    API docs      http://127.0.0.1:$PORT/docs   (OpenAPI: /openapi.json)
    readiness     http://127.0.0.1:$PORT/health/ready   (worker: http://127.0.0.1:$WORKER_HEALTH_PORT/health/ready)
    Temporal UI   $TEMPORAL_UI_URL
    Matrix        $MATRIX_HOMESERVER_URL  (Synapse; bot token in .data/synapse/bot.token)
    firehose      ${FIREHOSE_SERVICE:-wss://bsky.network}  (consumer; set FIREHOSE_SERVICE for a local PDS)
    operator JWT  npm run token -- --sub <user id> --role admin

MSG
# Ctrl-C reaches the worker, the API and the consumer too; they stop gracefully and exit 0. Any other exit
# means one of them died: stop the whole stack rather than run half of it.
code=0
wait -n "${APP_PIDS[@]}" || code=$?
if [ "$code" -ne 0 ]; then echo "[dev] a process exited with $code; stopping the stack" >&2; exit 1; fi
exit 0
