import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtpAgent } from '@atproto/api';
import { TestNetworkNoAppView } from '@atproto/dev-env';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { rowsReferencingEvent, seedAttendees } from '../helpers/seed.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { synapseRoom } from '../helpers/synapse.ts';

// A real PDS and PLC in-process (@atproto/dev-env); meetflow logs in there with an app password.
let net: TestNetworkNoAppView;
let s: Stack;
let alice: AtpAgent;
beforeAll(async () => {
  net = await TestNetworkNoAppView.create({});
  alice = new AtpAgent({ service: net.pds.url });
  await alice.createAccount({ handle: 'alice.test', email: 'alice@test.com', password: 'alice-pass' });
  s = await startStack({ BLUESKY_SERVICE: net.pds.url });
  await s.startWorker();
}, 120_000);
afterAll(async () => { await s?.close(); await net?.close(); });

async function login(identifier = 'alice.test', password = 'alice-pass') {
  return s.api('POST', '/v1/auth/bluesky/app-password', { body: { identifier, password } });
}

const rkeyOf = (uri: string) => uri.split('/').pop()!;
async function pdsRecord(uri: string) {
  return alice.com.atproto.repo.getRecord({ repo: alice.session!.did, collection: EVENT_COLLECTION, rkey: rkeyOf(uri) })
    .then((r) => ({ cid: r.data.cid!, value: r.data.value as Record<string, unknown> }), () => null);
}
async function published(slug: string, token: string, notCid?: string) {
  return eventually(async () => {
    const e = (await s.api('GET', `/v1/events/${slug}`, { token })).body;
    return e.bluesky?.uri && e.bluesky.cid !== notCid && e.bluesky;
  });
}

describe('Bluesky publishing against a local PDS', () => {
  it('logs in with an app password, linking the user by DID', async () => {
    const bad = await login('alice.test', 'wrong');
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('unauthorized');
    const first = await login();
    expect(first.status).toBe(200);
    expect(first.body.user).toMatchObject({ did: alice.session!.did, handle: 'alice.test', isShadowAccount: false });
    const again = await login();
    expect(again.body.user.id).toBe(first.body.user.id); // same DID, same user
  });

  it('publishes, updates with the CID swap, keeps fields of other apps, and deletes', async () => {
    const { token } = (await login()).body;
    const created = await s.api('POST', '/v1/events', {
      token, body: { name: 'Picnic', description: 'bring food', startAt: '2027-06-01T12:00:00Z', endAt: '2027-06-01T15:00:00Z', timeZone: 'UTC', onlineUrl: 'https://meet.example/picnic' },
    });
    const { slug } = created.body;
    expect(created.body.operations).toContainEqual({ id: `bsky-publish:${slug}`, type: 'bsky-publish' });
    const first = await published(slug, token);
    const record = await pdsRecord(first.uri);
    expect(record?.cid).toBe(first.cid);
    expect(record?.value).toMatchObject({
      $type: EVENT_COLLECTION, name: 'Picnic', description: 'bring food', startsAt: '2027-06-01T12:00:00.000Z',
      mode: `${EVENT_COLLECTION}#virtual`, status: `${EVENT_COLLECTION}#scheduled`,
      uris: [{ uri: `${s.config.PUBLIC_BASE_URL}/events/${slug}`, name: 'meetflow' }],
    });

    // Another app adds a field: meetflow's next write keeps it (re-read, swap against the new CID).
    const foreign = await alice.com.atproto.repo.putRecord({
      repo: alice.session!.did, collection: EVENT_COLLECTION, rkey: rkeyOf(first.uri),
      record: { ...record!.value, media: [{ alt: 'poster' }] }, swapRecord: record!.cid, validate: false,
    });
    await s.api('PATCH', `/v1/events/${slug}`, { token, body: { name: 'Picnic in the Park' } });
    const second = await published(slug, token, first.cid);
    expect(second.uri).toBe(first.uri); // same rkey: updated, not a second record
    const updated = await pdsRecord(second.uri);
    expect(updated?.cid).not.toBe(foreign.data.cid);
    expect(updated?.value).toMatchObject({ name: 'Picnic in the Park', media: [{ alt: 'poster' }] });

    const list = await alice.com.atproto.repo.listRecords({ repo: alice.session!.did, collection: EVENT_COLLECTION });
    expect(list.data.records.filter((r) => rkeyOf(r.uri) === rkeyOf(first.uri))).toHaveLength(1);

    const del = await s.api('DELETE', `/v1/events/${slug}`, { token });
    await eventually(async () => (await s.api('GET', `/v1/operations/${del.body.id}`, { token })).body.status === 'completed');
    expect(await pdsRecord(first.uri)).toBeNull();
  });

  it('deletes an event with 5,000 attendees, a chat room and a Bluesky record completely', async () => {
    const { token } = (await login()).body;
    const created = await s.api('POST', '/v1/events', {
      token, body: { name: 'Everything', startAt: '2027-08-01T18:00:00Z', endAt: '2027-08-01T22:00:00Z', timeZone: 'UTC', chatEnabled: true },
    });
    const { slug } = created.body;
    const { uri } = await published(slug, token);
    const roomId = await eventually(async () => (await s.ds.query(
      `SELECT room_id FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1`, [slug]))[0]?.room_id as string | undefined);
    await seedAttendees(s.ds, slug, 5000);
    const [{ id }] = await s.ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);

    const del = await s.api('DELETE', `/v1/events/${slug}`, { token });
    const op = await eventually(async () => {
      const o = (await s.api('GET', `/v1/operations/${del.body.id}`, { token })).body;
      return o.status !== 'running' && o;
    }, { timeoutMs: 120_000 });
    expect(op.status).toBe('completed');
    expect(op.result).toMatchObject({ bluesky: 'deleted', attendeesRemoved: 5000 });
    expect(Object.values(await rowsReferencingEvent(s.ds, id)).every((n) => n === 0)).toBe(true);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE id = $1`, [id])).toEqual([]);
    expect(await synapseRoom(roomId)).toBeNull();
    expect(await pdsRecord(uri)).toBeNull();
  });

  it('publishing keeps the series link of every occurrence', async () => {
    const { token } = (await login()).body;
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCHours(18, 0, 0, 0);
    const series = await s.api('POST', '/v1/series', {
      token, body: { name: 'Published Series', rrule: 'FREQ=WEEKLY;COUNT=3', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), timeZone: 'UTC' },
    });
    const occurrences = await eventually(async () => {
      const rows = await s.ds.query(`SELECT slug FROM events WHERE series_slug = $1 ORDER BY start_at`, [series.body.slug]);
      return rows.length === 3 ? rows as { slug: string }[] : null;
    });
    for (const o of occurrences) await s.api('POST', `/v1/events/${o.slug}/bluesky`, { token });
    for (const o of occurrences) {
      const b = await published(o.slug, token);
      expect((await pdsRecord(b.uri))?.value.uris).toContainEqual({ uri: `${s.config.PUBLIC_BASE_URL}/series/${series.body.slug}`, name: 'series' });
    }
    const linked = await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE series_slug = $1 AND bluesky_uri IS NOT NULL`, [series.body.slug]);
    expect(linked[0].n).toBe(3);
    const [tmpl] = await s.ds.query(`SELECT t.series_slug FROM event_series x JOIN events t ON t.id = x.template_event_id WHERE x.slug = $1`, [series.body.slug]);
    expect(tmpl.series_slug).toBe(series.body.slug);
  });

  it('a revoked session fails the publish with a typed error and disconnects the user; ingested events are never published', async () => {
    const bob = new AtpAgent({ service: net.pds.url });
    await bob.createAccount({ handle: 'bob.test', email: 'bob@test.com', password: 'bob-pass' });
    const { token, user } = (await login('bob.test', 'bob-pass')).body;
    const ingested = await s.event(token);
    await s.ds.query(`UPDATE events SET source_type = 'bluesky', source_id = 'at://' || $2 || '/x/1' WHERE slug = $1`, [ingested.slug, user.did]);
    const skip = await s.api('POST', `/v1/events/${ingested.slug}/bluesky`, { token });
    const skipped = await eventually(async () => (await s.api('GET', `/v1/operations/${skip.body.id}`, { token })).body.progress?.last);
    expect(skipped).toEqual({ state: 'skipped', reason: 'ingested from the network' });

    // Revoke: the stored refresh token is dead and the access token garbage.
    const key = `bsky:session:${user.did}`;
    const stored = JSON.parse((await s.redis.get(key))!);
    await bob.com.atproto.server.deleteSession(undefined, { headers: { authorization: `Bearer ${stored.session.refreshJwt}` } }).catch(() => undefined);
    stored.session.accessJwt = 'revoked';
    await s.redis.set(key, JSON.stringify(stored));
    const { slug } = await s.event(token);
    const pub = await s.api('POST', `/v1/events/${slug}/bluesky`, { token });
    const failed = await eventually(async () => {
      const o = (await s.api('GET', `/v1/operations/${pub.body.id}`, { token })).body;
      return o.status !== 'running' && o;
    });
    expect(failed.status).toBe('failed');
    expect(failed.error.type).toBe('BlueskySessionRevoked');
    expect((await s.ds.query(`SELECT bluesky_connected FROM users WHERE id = $1`, [user.id]))[0].bluesky_connected).toBe(false);
    expect((await s.api('GET', `/v1/events/${slug}`, { token })).body.bluesky).toBeNull();
  });
});
