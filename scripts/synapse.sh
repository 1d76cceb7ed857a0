#!/usr/bin/env bash
# A real Synapse homeserver on loopback (SQLite), with an admin bot whose rate limits are lifted.
#   scripts/synapse.sh start DIR PORT   generate config once, start, wait for /health, register the
#                                       bot once (scripts/matrix-bot.ts); prints `MATRIX_HOMESERVER_URL=… MATRIX_ACCESS_TOKEN=…`
#   scripts/synapse.sh stop DIR         stop it (the data stays for the next start)
set -euo pipefail
cmd=$1 dir=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY="$ROOT/.tools/venv/bin/python"

stop() {
  [ -f "$dir/homeserver.pid" ] || return 0
  local pid; pid=$(cat "$dir/homeserver.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/homeserver.pid"
}

if [ "$cmd" = stop ]; then stop; exit 0; fi

port=$3
mkdir -p "$dir"
if [ ! -f "$dir/homeserver.yaml" ]; then
  "$PY" -m synapse.app.homeserver --server-name localhost --config-path "$dir/homeserver.yaml" \
    --data-directory "$dir" --generate-config --report-stats=no >/dev/null
fi
# Rewrite the parts that depend on this run: port, loopback only, no federation, test-size limits.
"$PY" - "$dir/homeserver.yaml" "$port" "$dir" <<'PYEOF'
import sys, yaml
path, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = yaml.safe_load(open(path))
c['listeners'] = [{'port': port, 'bind_addresses': ['127.0.0.1'], 'type': 'http', 'tls': False,
                   'x_forwarded': False, 'resources': [{'names': ['client'], 'compress': False}]}]
c['pid_file'] = f'{d}/homeserver.pid'
c['trusted_key_servers'] = []
c['suppress_key_server_warning'] = True
c['enable_registration'] = False
c['presence'] = {'enabled': False}
fast = {'per_second': 1000, 'burst_count': 1000}
c['rc_invites'] = {'per_room': fast, 'per_user': fast, 'per_issuer': fast}
c['rc_joins'] = {'local': fast, 'remote': fast}
c['rc_room_creation'] = fast
c['rc_message'] = fast
c['rc_admin_redaction'] = fast
# A new database's background updates (over a minute, throttled) run at once: a room purged while
# they run can fail (SQLite: FOREIGN KEY constraint failed on `rooms`, seen in bench/chat-retention).
c['background_updates'] = {'sleep_enabled': False}
yaml.safe_dump(c, open(path, 'w'))
# The generated log config writes to the folder it was generated from (a checkout): keep it in DIR.
log = yaml.safe_load(open(c['log_config']))
log['handlers']['file']['filename'] = f'{d}/homeserver.log'
yaml.safe_dump(log, open(c['log_config'], 'w'))
PYEOF
stop
"$PY" -m synapse.app.homeserver -c "$dir/homeserver.yaml" --daemonize >"$dir/start.log" 2>&1
url="http://127.0.0.1:$port"
for _ in $(seq 300); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
curl -sf "$url/health" >/dev/null || { echo "synapse did not start; see $dir/homeserver.log" >&2; exit 1; }

node "$ROOT/scripts/matrix-bot.ts" "$url" "$dir/homeserver.yaml" "$dir/bot.token" >&2
echo "MATRIX_HOMESERVER_URL=$url MATRIX_ACCESS_TOKEN=$(cat "$dir/bot.token")"
