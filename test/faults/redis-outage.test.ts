import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AtpAgent } from '@atproto/api';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { doorFor, type Door } from '../helpers/door.ts';
import { appPasswordLogin, pdsAccount, startPdsStack } from '../helpers/pds.ts';
import { eventually, type Stack } from '../helpers/stack.ts';

// Redis holds rate-limit counters and Bluesky sessions. With it cut off (a TCP door in front of
// the real one, shut) for this stack's API and worker: what needs no session goes on, what needs
// one answers a clear 503 and writes nothing, work that needs one waits; all of it recovers.
let net: TestNetworkNoAppView;
let s: Stack;
let door: Door;
let alice: AtpAgent;
beforeAll(async () => {
  const redis = await doorFor('REDIS_URL');
  door = redis.door;
  ({ net, s } = await startPdsStack(() => redis.env));
  alice = await pdsAccount(net, 'alice.test', 'alice-pass');
}, 120_000);
afterAll(async () => { await door?.open(); await s?.close(); await net?.close(); await door?.shut(); vi.restoreAllMocks(); });

describe('Redis unreachable', () => {
  it('reads and writes go on, a login answers 503 redis_unavailable and links nothing, publishing waits; all recover', { timeout: 300_000 }, async () => {
    const { token } = (await appPasswordLogin(s, 'alice.test', 'alice-pass')).body;
    const bob = await pdsAccount(net, 'bob.test', 'bob-pass');
    await door.shut();

    expect((await s.api('GET', '/v1/events', { token })).status).toBe(200); // rate limits fail open
    const created = await s.api('POST', '/v1/events', { token, body: {
      name: 'Published Later', startAt: '2027-09-01T18:00:00Z', endAt: '2027-09-01T20:00:00Z', timeZone: 'UTC', publishToBluesky: true,
    } });
    expect(created.status).toBe(201);
    const ready = await s.api('GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.redis.up).toBe(false);
    expect((await s.api('GET', '/health/live')).status).toBe(200);

    const login = await appPasswordLogin(s, 'bob.test', 'bob-pass');
    expect(login.status).toBe(503);
    expect(login.body.error.code).toBe('redis_unavailable');
    expect(await s.ds.query(`SELECT 1 FROM users WHERE did = $1`, [bob.session!.did])).toEqual([]); // nothing half-written
    // The publication needs Alice's session: it waits (retried), it does not fail.
    const op = created.body.operations.find((o: { type: string }) => o.type === 'bsky-publisher').id;
    await eventually(async () => {
      const d = await s.temporal.workflow.getHandle(op).describe();
      return (d.raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2);
    }, { timeoutMs: 60_000, intervalMs: 500 });

    await door.open();
    expect((await appPasswordLogin(s, 'bob.test', 'bob-pass')).status).toBe(200);
    await eventually(async () => (await s.api('GET', '/health/ready')).status === 200);
    const uri = await eventually(async () => (await s.api('GET', `/v1/events/${created.body.slug}`, { token })).body.bluesky?.uri as string | undefined,
      { timeoutMs: 120_000, intervalMs: 500 });
    const record = await alice.com.atproto.repo.getRecord({ repo: alice.session!.did, collection: EVENT_COLLECTION, rkey: uri.split('/').pop()! });
    expect(record.data.value).toMatchObject({ name: 'Published Later' });
  });
});

describe('Redis that stops answering (hung, or cut off without a reset)', () => {
  it('a write still goes on (rate limits fail open), a login answers 503 redis_unavailable; both recover', { timeout: 180_000 }, async () => {
    const { token } = (await appPasswordLogin(s, 'alice.test', 'alice-pass')).body;
    const carol = await pdsAccount(net, 'carol.test', 'carol-pass');
    door.stall();
    // Without the client's command timeout each of these never answered (the test's timeout).
    const created = await s.api('POST', '/v1/events', { token, body: {
      name: 'Redis Hung', startAt: '2027-09-02T18:00:00Z', endAt: '2027-09-02T20:00:00Z', timeZone: 'UTC',
    } });
    expect(created.status).toBe(201);
    const login = await appPasswordLogin(s, 'carol.test', 'carol-pass');
    expect([login.status, login.body.error?.code]).toEqual([503, 'redis_unavailable']);
    expect(await s.ds.query(`SELECT 1 FROM users WHERE did = $1`, [carol.session!.did])).toEqual([]); // nothing half-written

    await door.open();
    await eventually(async () => (await appPasswordLogin(s, 'carol.test', 'carol-pass')).status === 200, { timeoutMs: 60_000, intervalMs: 500 });
  });
});
