#!/usr/bin/env bash
# Opens /docs in a real browser (headless Chromium) with every address but the API's own
# unreachable, and checks that Swagger UI rendered the operations: the page needs no internet.
#   scripts/check-docs-offline.sh [API_URL]    default http://127.0.0.1:3000 (npm run dev)
# Installs Debian's chromium when it is missing (root or sudo).
set -euo pipefail
url=${1:-http://127.0.0.1:3000}
if ! command -v chromium >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get install -y -qq chromium >/dev/null
fi
host=$(node -e 'console.log(new URL(process.argv[1]).host)' "$url")
# Every host resolves to nowhere except the API's: a CDN asset would fail to load.
dom=$(chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=15000 \
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE ${host%%:*}" --dump-dom "$url/docs" 2>/dev/null)
count=$( { grep -o 'class="opblock opblock-' <<<"$dom" || true; } | wc -l)
if [ "$count" -lt 10 ]; then
  echo "docs: Swagger UI did not render offline ($count operations shown)" >&2
  exit 1
fi
echo "docs: Swagger UI rendered $count operations with no internet"
