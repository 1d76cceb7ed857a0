#!/usr/bin/env bash
# `npm test`: provisions what is missing, starts throw-away Postgres, Redis and a Temporal dev
# server on free ports (never clashing with a running dev stack), migrates, type-checks, and
# runs the whole vitest suite. Extra arguments go to vitest (e.g. `npm test -- test/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. scripts/services.sh
start_throwaway_services

export TEMPORAL_TEST_SERVER_PATH; TEMPORAL_TEST_SERVER_PATH=$(command -v temporal-test-server)
export AUTH_JWT_SECRET="test-secret-not-for-production"
# Tests drive many requests from one process and address; the abuse suite sets low limits itself.
export RATE_LIMIT_ANON_PER_MIN=100000 RATE_LIMIT_WRITES_PER_MIN=100000
# The workers' own log lines (retry warnings of deliberate outages) go here, not into the report.
export TEST_LOG_DIR="$PWD/test-results"
rm -rf "$TEST_LOG_DIR"; mkdir -p "$TEST_LOG_DIR"

npx tsc --noEmit
node src/db/migrate.ts
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$RUN/vitest.json" "$@" || status=$?
# A plain closing line any CI can read, from vitest's own JSON report.
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' "$RUN/vitest.json" || true
[ "$status" -eq 0 ] || echo "worker logs of this run: $TEST_LOG_DIR" >&2
node scripts/check-invariants.ts || status=1
exit "$status"
