import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';

// The compose stack's `matrix-bot` job (and scripts/synapse.sh) run scripts/matrix-bot.ts: here
// against the test suite's real Synapse, with a bot of its own.
const url = process.env.MATRIX_HOMESERVER_URL!;
const config = process.env.MATRIX_HOMESERVER_CONFIG!;
const register = (tokenFile: string, localpart: string, configPath = config) =>
  spawnSync(process.execPath, ['scripts/matrix-bot.ts', url, configPath, tokenFile, localpart], { encoding: 'utf8' });
const call = async (path: string, token: string, init: RequestInit = {}): Promise<{ status: number; json: () => Promise<any> }> =>
  fetch(url + path, { ...init, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });

describe('the bot registration job (scripts/matrix-bot.ts) against a real Synapse', () => {
  it('registers an admin bot once, lifts its rate limits, keeps a working token and replaces a lost one', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'matrix-bot-'));
    const tokenFile = join(dir, 'token');
    const localpart = `bot-${randomUUID().slice(0, 8)}`;

    const first = register(tokenFile, localpart);
    expect(first.status, first.stderr).toBe(0);
    const token = readFileSync(tokenFile, 'utf8');
    const who = await (await call('/_matrix/client/v3/account/whoami', token)).json();
    expect(who.user_id).toBe(`@${localpart}:localhost`);
    const admin = await (await call(`/_synapse/admin/v2/users/${encodeURIComponent(who.user_id)}`, token)).json();
    expect(admin.admin).toBe(true);
    const limits = await (await call(`/_synapse/admin/v1/users/${encodeURIComponent(who.user_id)}/override_ratelimit`, token)).json();
    expect(limits).toEqual({ messages_per_second: 0, burst_count: 0 });

    const again = register(tokenFile, localpart);
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(tokenFile, 'utf8')).toBe(token); // a token that works is kept

    writeFileSync(tokenFile, 'syt_revoked_or_lost');
    const recovered = register(tokenFile, localpart);
    expect(recovered.status, recovered.stderr).toBe(0);
    const fresh = readFileSync(tokenFile, 'utf8');
    expect(fresh).not.toBe('syt_revoked_or_lost');
    expect((await call('/_matrix/client/v3/account/whoami', fresh)).status).toBe(200);
  });

  it('fails, and writes nothing, without the homeserver\'s shared secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'matrix-bot-'));
    writeFileSync(join(dir, 'homeserver.yaml'), 'server_name: localhost\n');
    const result = register(join(dir, 'token'), `bot-${randomUUID().slice(0, 8)}`, join(dir, 'homeserver.yaml'));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/registration_shared_secret/);
    expect(() => readFileSync(join(dir, 'token'))).toThrow();
  });
});
