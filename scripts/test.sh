#!/usr/bin/env bash
# `npm test`: provisions what is missing, starts throw-away Postgres, Redis and a Temporal dev
# server on free ports under a temp folder, migrates, type-checks, and runs the vitest suite.
# Extra arguments go to vitest (e.g. `npm test -- test/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. scripts/services.sh

RUN=$(mktemp -d /tmp/meetflow-test.XXXXXX)
chmod 755 "$RUN"
TEMPORAL_PID=""
cleanup() {
  [ -n "$TEMPORAL_PID" ] && kill "$TEMPORAL_PID" 2>/dev/null && wait "$TEMPORAL_PID" 2>/dev/null
  stop_postgres "$RUN/pg"; stop_redis "$RUN/redis"
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port); REDIS_PORT=$(free_port); TEMPORAL_PORT=$(free_port)
echo "[test] services under $RUN: postgres :$PG_PORT, redis :$REDIS_PORT, temporal :$TEMPORAL_PORT" >&2
PG_FSYNC=off start_postgres "$RUN/pg" "$PG_PORT"
start_redis "$RUN/redis" "$REDIS_PORT"
start_temporal "$RUN/temporal.db" "$TEMPORAL_PORT" "$(free_port)" "$RUN/temporal.log" --headless \
  --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=OFF

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/meetflow"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
export TEMPORAL_TEST_SERVER_PATH; TEMPORAL_TEST_SERVER_PATH=$(command -v temporal-test-server)
export AUTH_JWT_SECRET="test-secret-not-for-production"
export LOG_LEVEL="${LOG_LEVEL:-warn}"

npx tsc --noEmit
node src/db/migrate.ts
npx vitest run "$@"
