// Registers meetflow's admin bot on a Synapse homeserver (shared-secret registration), lifts its
// rate limits and writes its access token to a file, once: a token that still works is kept, and a
// lost or revoked one is replaced by logging in with the password kept beside it.
//   node scripts/matrix-bot.ts HOMESERVER_URL HOMESERVER_YAML TOKEN_FILE [LOCALPART]
// Used by scripts/synapse.sh (dev and tests) and by the compose stack's `matrix-bot` job.
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [url, configPath, tokenFile, localpart = 'meetflow-bot'] = process.argv.slice(2);
if (!url || !configPath || !tokenFile) {
  console.error('usage: node scripts/matrix-bot.ts HOMESERVER_URL HOMESERVER_YAML TOKEN_FILE [LOCALPART]');
  process.exit(2);
}
const passwordFile = `${tokenFile}.password`;

async function call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(url.replace(/\/$/, '') + path, {
    method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000),
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, any> };
}

const works = async (token: string) => (await call('GET', '/_matrix/client/v3/account/whoami', undefined, token)).status === 200;

/** The shared secret from homeserver.yaml (Synapse writes `registration_shared_secret: "…"`). */
function sharedSecret(): string {
  const match = readFileSync(configPath, 'utf8').match(/^registration_shared_secret:\s*['"]?([^'"\n]+)['"]?\s*$/m);
  if (!match) throw new Error(`${configPath} has no registration_shared_secret`);
  return match[1];
}

async function register(): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  const { json: { nonce } } = await call('GET', '/_synapse/admin/v1/register');
  const mac = createHmac('sha1', sharedSecret()).update([nonce, localpart, password, 'admin'].join('\0')).digest('hex');
  const { status, json } = await call('POST', '/_synapse/admin/v1/register', { nonce, username: localpart, password, admin: true, mac });
  if (status !== 200) throw new Error(`registering ${localpart}: ${status} ${json.errcode ?? ''} ${json.error ?? ''}`);
  writeFileSync(passwordFile, password, { mode: 0o600 });
  return json.access_token;
}

async function login(): Promise<string> {
  const password = readFileSync(passwordFile, 'utf8');
  const { status, json } = await call('POST', '/_matrix/client/v3/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user: localpart }, password });
  if (status !== 200) throw new Error(`logging in as ${localpart}: ${status} ${json.errcode ?? ''} ${json.error ?? ''}`);
  return json.access_token;
}

const kept = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '';
if (kept && await works(kept)) {
  console.log(`${localpart}: token in ${tokenFile} works`);
} else {
  const token = existsSync(passwordFile) ? await login() : await register();
  const { json: who } = await call('GET', '/_matrix/client/v3/account/whoami', undefined, token);
  const limits = await call('POST', `/_synapse/admin/v1/users/${encodeURIComponent(who.user_id)}/override_ratelimit`, { messages_per_second: 0, burst_count: 0 }, token);
  if (limits.status !== 200) throw new Error(`lifting the rate limits of ${who.user_id}: ${limits.status} ${limits.json.error ?? ''}`);
  writeFileSync(tokenFile, token, { mode: 0o600 });
  console.log(`${who.user_id}: registered, rate limits lifted, token written to ${tokenFile}`);
}
