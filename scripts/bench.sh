#!/usr/bin/env bash
# `npm run bench [-- name]`: runs the benchmarks in bench/ against a throw-away stack (worker and
# API as real processes, traffic over loopback only). Prints figures; never pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. scripts/services.sh
start_throwaway_services

export AUTH_JWT_SECRET="bench-secret-not-for-production" LOG_LEVEL=warn
export RATE_LIMIT_ANON_PER_MIN=0 RATE_LIMIT_WRITES_PER_MIN=0 # 0: off (load from one address and few users)
# Long horizons so the series benchmark can materialize ten years in one go.
export SERIES_HORIZON_DAYS=4000 SERIES_MAX_OCCURRENCES=5000
export PORT; PORT=$(free_ports 1)
node src/db/migrate.ts >/dev/null
APP_PIDS=()
node ${BENCH_WORKER_NODE_FLAGS:-} src/worker/main.ts >"$RUN/worker.log" 2>&1 & APP_PIDS+=($!)
node ${BENCH_API_NODE_FLAGS:-} src/api/main.ts >"$RUN/api.log" 2>&1 & APP_PIDS+=($!)
wait_for 60 api curl -sf "http://127.0.0.1:$PORT/health/ready"
export API_URL="http://127.0.0.1:$PORT"
export BENCH_SUMMARY="$RUN/summary.jsonl"
: >"$BENCH_SUMMARY"

for script in bench/*.ts; do
  name=$(basename "$script" .ts)
  [ $# -gt 0 ] && [[ " $* " != *" $name "* ]] && continue
  echo "== $name"
  # A benchmark that stops making progress (a lost firehose message, a stuck run) must not hang the run.
  timeout --kill-after=10 "${BENCH_SCRIPT_TIMEOUT:-600}" node ${BENCH_NODE_FLAGS:-} "$script" || echo "== $name did not finish (exit $?): no figures from it" >&2
done
node scripts/bench-summary.ts "$BENCH_SUMMARY"
