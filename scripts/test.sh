#!/usr/bin/env bash
# `npm test`: provisions what is missing, starts throw-away Postgres, Redis and a Temporal dev
# server on free ports (never clashing with a running dev stack), migrates, type-checks, and
# runs the whole vitest suite. Extra arguments go to vitest (e.g. `npm test -- test/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. scripts/services.sh
# The checks and the workflow bundles (below) go on while the services start.
npx tsc --noEmit & typecheck=$!
npm run --silent lint & lint=$! # floating and misused promises (eslint.config.js)
start_throwaway_services

export TEMPORAL_TEST_SERVER_PATH; TEMPORAL_TEST_SERVER_PATH=$(command -v temporal-test-server)
export AUTH_JWT_SECRET="test-secret-not-for-production"
# Tests drive many requests from one process and address; the abuse suite sets low limits itself.
export RATE_LIMIT_ANON_PER_MIN=100000 RATE_LIMIT_WRITES_PER_MIN=100000
# Bursts (200 concurrent RSVPs) on a slow machine must not turn into timeouts: generous waits
# here; the abuse suite sets short ones to show they hold.
export DB_ACQUIRE_TIMEOUT_MS=60000 DB_LOCK_TIMEOUT_MS=60000 DB_STATEMENT_TIMEOUT_MS=120000
# The housekeeping schedules act on every row of the shared test database: none fires during a run
# whatever the time of day (the default retention at 03:00 would close rooms other tests seeded).
# Tests that need a schedule to fire run it in a namespace and database of their own.
export CHAT_RETENTION_CRON='0 0 1 1 *' RECONCILE_CRON='0 0 1 1 *'
# The workers' own log lines (retry warnings of deliberate outages) go here, not into the report.
export TEST_LOG_DIR="$PWD/test-results"
rm -rf "$TEST_LOG_DIR"; mkdir -p "$TEST_LOG_DIR"
# The in-process API and relay log here too (JSON lines); processes a test spawns log to their stdout.
export LOG_FILE="$TEST_LOG_DIR/app.log"

# The workflow bundles every worker of the run loads (the tests' own, the contract test's): built
# once, the way production builds them (npm run bundle), instead of by each of them (~4 s apiece).
export WORKFLOW_BUNDLE_PATH="$RUN/workflow-bundle.js"
node src/worker/bundle.ts "$WORKFLOW_BUNDLE_PATH" >/dev/null
wait "$typecheck"
wait "$lint"
node src/db/migrate.ts
status=0
# Two more checks of the whole suite (not of a part, `npm test -- <path>`): the API contract
# under Schemathesis (its own database, API and worker, so it runs beside vitest: mostly waiting
# on each other, the two finish sooner together), and the data invariants after everything ran.
# Each counts as one test.
FUZZ_PID=""
if [ $# -eq 0 ]; then bash scripts/fuzz-api.sh >"$TEST_LOG_DIR/contract.out" 2>&1 & FUZZ_PID=$!; APP_PIDS=("$FUZZ_PID"); fi
npx vitest run --reporter=default --reporter=json --outputFile.json="$RUN/vitest.json" "$@" || status=$?
[ "$status" -eq 0 ] || echo "worker logs of this run: $TEST_LOG_DIR" >&2
extra_passed=0 extra_failed=0
if [ -n "$FUZZ_PID" ]; then
  if wait "$FUZZ_PID"; then extra_passed=$((extra_passed + 1)); echo "[contract] Schemathesis: no failure"
  else extra_failed=$((extra_failed + 1)); status=1; cat "$TEST_LOG_DIR/contract.out" >&2; fi
  if node src/ops/main.ts invariants; then extra_passed=$((extra_passed + 1)); else extra_failed=$((extra_failed + 1)); status=1; fi
fi
# A plain closing line any CI can read, from vitest's own JSON report and the checks above.
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests + +process.argv[2]} passed, ${r.numFailedTests + +process.argv[3]} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' \
  "$RUN/vitest.json" "$extra_passed" "$extra_failed" || status=1
exit "$status"
