#!/usr/bin/env bash
# The contract test: Schemathesis generates requests from /openapi.json (valid and invalid ones)
# against the real API and worker on the throw-away services of `npm test`, as a user, a service
# and an admin. It fails on any server error, any status or body the document does not state,
# and any input accepted at the door that the schema says is invalid (or refused that it says is
# valid). Bounded: a fixed number of examples per operation and a fixed seed; the stateful phase is
# left out (time), and so is Hypothesis' filter_too_much health check (a generator-efficiency
# warning on the RRULE pattern, not a finding about the API).
# Run by scripts/test.sh after vitest (DATABASE_URL, REDIS_URL, TEMPORAL_ADDRESS… exported).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
APP_PIDS=()
trap 'for pid in ${APP_PIDS[@]+"${APP_PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done' EXIT
ST="$PWD/.tools/schemathesis/bin/st"
OUT="${TEST_LOG_DIR:-$(mktemp -d)}"
read -r port closed < <(free_ports 2)
# A database and a Temporal namespace of its own, so what the fuzzer sets in motion (the reconciler
# looks at every row) acts only on what it made, never on what the suite left behind, and the
# admin routes it calls (list, cancel: with ids harvested from earlier answers) never reach the
# suite's running operations (CI saw it cancel one room's closing in the retention test).
"$PG_BIN/psql" "$DATABASE_URL" -qc "CREATE DATABASE fuzz_$$"
export DATABASE_URL="${DATABASE_URL%/*}/fuzz_$$"
node src/db/migrate.ts >/dev/null
# Loopback only: Bluesky logins and DID lookups go to a port where nothing listens. The scheduled
# reconciler stays out of the way (a deterministic run); the admin route still runs it.
export PORT="$port" TEMPORAL_NAMESPACE="$CONTRACT_NAMESPACE" TEMPORAL_TASK_QUEUE="fuzz-$$" RATE_LIMIT_ANON_PER_MIN=0 RATE_LIMIT_WRITES_PER_MIN=0 RECONCILE_CRON='0 0 1 1 *' \
  BLUESKY_SERVICE="http://127.0.0.1:$closed" BLUESKY_PLC_URL="http://127.0.0.1:$closed"
api="http://127.0.0.1:$port"

node src/worker/main.ts >"$OUT/fuzz-worker.log" 2>&1 & APP_PIDS+=($!)
node src/api/main.ts >"$OUT/fuzz-api.log" 2>&1 & APP_PIDS+=($!)
wait_for 60 api curl -sf "$api/health/live"

token() { node scripts/token.ts --sub "$1" ${2:+--role "$2"} --ttl 3600; }
service=$(token 00000000-0000-4000-8000-000000000001 service)
admin=$(token 00000000-0000-4000-8000-000000000002 admin)
user_id=$(curl -sf -X POST "$api/v1/users" -H "Authorization: Bearer $service" -H 'Content-Type: application/json' \
  -d '{"displayName":"Fuzz User"}' | node -e 'process.stdin.on("data", (d) => console.log(JSON.parse(d).id))')
user=$(token "$user_id")

status=0
run() { # run NAME TOKEN [schemathesis filters…]
  local name=$1 tok=$2; shift 2
  echo "[fuzz] $name" >&2
  "$ST" --config-file test/contract/schemathesis.toml run "$api/openapi.json" --checks all --max-examples "${FUZZ_EXAMPLES:-10}" --seed 1 --workers 1 --phases examples,coverage,fuzzing --suppress-health-check=filter_too_much \
    --request-timeout 20 --max-response-time 20 -H "Authorization: Bearer $tok" "$@" \
    >"$OUT/fuzz-$name.log" 2>&1 || { status=1; echo "[fuzz] $name found problems; report: $OUT/fuzz-$name.log" >&2; tail -n 60 "$OUT/fuzz-$name.log" >&2; }
}
run user "$user" --exclude-path-regex '^/v1/(integration|admin)'
run service "$service" --include-path-regex '^/v1/(integration|users)'
run admin "$admin" --include-path-regex '^/v1/(admin|operations)'
# What the API accepted must not fail later: give retries time to show, then look.
sleep 10
node test/contract/failing-workflows.ts "$TEMPORAL_TASK_QUEUE" >&2 || status=1
exit "$status"
