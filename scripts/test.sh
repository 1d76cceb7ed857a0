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

npx tsc --noEmit
node src/db/migrate.ts
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$RUN/vitest.json" "$@" || status=$?
# A plain closing line any CI can read, from vitest's own JSON report.
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' "$RUN/vitest.json" || true
node scripts/check-invariants.ts || status=1
exit "$status"
