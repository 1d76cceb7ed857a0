import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, AtpAgent } from '@atproto/api';
import { TID } from '@atproto/common-web';
import { putOwnRecord, RecordChangedError } from '../../src/bluesky/records.ts';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../../src/domain/lexicon.ts';
import { agentFor, sessionStore } from '../../src/bluesky/sessions.ts';
import { blueskyActivities, type EventsPublishResult } from '../../src/activities/bluesky/index.ts';
import { rowsReferencingEvent, seedAttendees } from '../helpers/seed.ts';
import { eventually, type Stack } from '../helpers/stack.ts';
import { appPasswordLogin, pdsAccount, startPdsStack } from '../helpers/pds.ts';
import { synapseRoom } from '../helpers/synapse.ts';
import { browserCookie, signInAndConsent } from '../helpers/oauth.ts';
import { freePort } from '../../scripts/free-ports.ts';
import { FAILURE } from '../../src/temporal/failures.ts';
import { asActivityFailure } from '../../src/worker/activity-failures.ts';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';

// A real PDS and PLC in-process (@atproto/dev-env); meetflow logs in there with an app password.
let net: TestNetworkNoAppView;
let s: Stack;
let alice: AtpAgent;
beforeAll(async () => {
  ({ net, s } = await startPdsStack());
  alice = await pdsAccount(net, 'alice.test', 'alice-pass');
}, 120_000);
afterAll(async () => { await s?.close(); await net?.close(); });

const login = (identifier = 'alice.test', password = 'alice-pass') => appPasswordLogin(s, identifier, password);

const rkeyOf = (uri: string) => uri.split('/').pop()!;
async function pdsRecord(uri: string) {
  return alice.com.atproto.repo.getRecord({ repo: alice.session!.did, collection: EVENT_COLLECTION, rkey: rkeyOf(uri) })
    .then((r) => ({ cid: r.data.cid!, value: r.data.value as Record<string, unknown> }), () => null);
}
async function published(slug: string, token: string) {
  return eventually(async () => {
    const e = (await s.api('GET', `/v1/events/${slug}`, { token })).body;
    return e.bluesky?.uri && e.bluesky as { uri: string; cid: string };
  });
}
/** Waits until the PDS holds meetflow's write named `name` and the event stores that record's CID. */
async function publishedAs(slug: string, token: string, name: string) {
  return eventually(async () => {
    const stored = await published(slug, token);
    const record = await pdsRecord(stored.uri);
    return record?.value.name === name && record.cid === stored.cid && stored;
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

  it('logs in through AT Protocol OAuth; the worker publishes with that session', async () => {
    const erin = await pdsAccount(net, 'erin.test', 'erin-pass');
    const unknown = await s.api('GET', '/v1/auth/bluesky/login?handle=nobody.test');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('bluesky_handle_unresolved');

    // Login CSRF: a flow started elsewhere (an attacker's), approved by the victim, and brought back
    // without the starting browser's nonce cookie is refused.
    const lured = await s.app.request('/v1/auth/bluesky/login?handle=erin.test');
    const luredParams = await signInAndConsent(lured.headers.get('location')!, { username: 'erin.test', password: 'erin-pass' });
    const mismatch = await s.api('GET', `/v1/auth/bluesky/callback?${luredParams}`, { headers: { Cookie: 'meetflow_oauth_nonce=another-browser' } });
    expect(mismatch.status).toBe(401);
    expect(mismatch.body.error.code).toBe('oauth_browser_mismatch');
    expect(await s.ds.query(`SELECT 1 FROM users WHERE did = $1`, [erin.session!.did])).toEqual([]); // nothing linked

    const start = await s.app.request('/v1/auth/bluesky/login?handle=erin.test');
    expect(start.status).toBe(302);
    const cookie = browserCookie(start);
    const params = await signInAndConsent(start.headers.get('location')!, { username: 'erin.test', password: 'erin-pass' });
    const replayed = new URLSearchParams(params);
    replayed.set('state', 'forged');
    expect((await s.api('GET', `/v1/auth/bluesky/callback?${replayed}`, { headers: { Cookie: cookie } })).status).toBe(401);

    const login = await s.api('GET', `/v1/auth/bluesky/callback?${params}`, { headers: { Cookie: cookie } });
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ did: erin.session!.did, handle: 'erin.test', isShadowAccount: false });
    expect(await s.redis.get(`bsky:oauth-session:${erin.session!.did}`)).not.toContain('refresh'); // sealed, not plain JSON

    const { slug } = (await s.api('POST', '/v1/events', {
      token: login.body.token, body: { name: 'OAuth Picnic', startAt: '2027-06-02T12:00:00Z', endAt: '2027-06-02T15:00:00Z', timeZone: 'UTC' },
    })).body;
    const { uri } = await published(slug, login.body.token);
    const record = await erin.com.atproto.repo.getRecord({ repo: erin.session!.did, collection: EVENT_COLLECTION, rkey: rkeyOf(uri) });
    expect(record.data.value).toMatchObject({ name: 'OAuth Picnic' });
  });

  it('publishes, updates with the CID swap, keeps fields of other apps, and deletes', async () => {
    const { token, user } = (await login()).body;
    const created = await s.api('POST', '/v1/events', {
      token, body: { name: 'Picnic', description: 'bring food', startAt: '2027-06-01T12:00:00Z', endAt: '2027-06-01T15:00:00Z', timeZone: 'UTC', onlineUrl: 'https://meet.example/picnic' },
    });
    const { slug } = created.body;
    expect(created.body.operations).toContainEqual({ id: `bsky-publisher:${user.id}`, type: 'bsky-publisher' });
    // The publisher is its user's: another user is told it does not exist.
    const publisher = `/v1/operations/bsky-publisher:${user.id}`;
    expect((await s.api('GET', publisher, { token })).status).toBe(200);
    const stranger = await s.api('GET', publisher, { token: (await s.user('Stranger')).token });
    expect([stranger.status, stranger.body.error.code]).toEqual([404, 'not_found']);
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
    // Not just "a CID other than the first": the user's sync (started by the login) may rewrite the
    // record meanwhile, and meetflow's fields on top of the foreign record give the foreign CID.
    await s.api('PATCH', `/v1/events/${slug}`, { token, body: { name: 'Picnic in the Park' } });
    const second = await publishedAs(slug, token, 'Picnic in the Park');
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

  it('a write against a stale CID is refused by the PDS: a RecordChangedError, failed as the retryable BlueskyRecordChanged, nothing overwritten', async () => {
    const repo = alice.session!.did;
    const rkey = TID.nextStr();
    const v1 = await alice.com.atproto.repo.putRecord({ repo, collection: EVENT_COLLECTION, rkey, validate: false, record: { $type: EVENT_COLLECTION, name: 'v1', createdAt: new Date().toISOString() } });
    await alice.com.atproto.repo.putRecord({ repo, collection: EVENT_COLLECTION, rkey, validate: false, swapRecord: v1.data.cid, record: { $type: EVENT_COLLECTION, name: 'v2 by another app', createdAt: new Date().toISOString() } });
    // The read happened before the other app's write: it still sees v1.
    const staleRead = { com: { atproto: { repo: {
      getRecord: async () => ({ data: { cid: v1.data.cid, value: { name: 'v1' } } }),
      putRecord: (p: Parameters<typeof alice.com.atproto.repo.putRecord>[0]) => alice.com.atproto.repo.putRecord(p),
    } } } } as unknown as Agent;
    const err = await putOwnRecord(staleRead, { repo, collection: EVENT_COLLECTION, rkey }, (stored) => ({ ...stored, name: 'meetflow' })).catch((e) => e);
    expect(err).toBeInstanceOf(RecordChangedError);
    expect(asActivityFailure(err)).toMatchObject({ type: FAILURE.blueskyRecordChanged, nonRetryable: false });
    expect((await alice.com.atproto.repo.getRecord({ repo, collection: EVENT_COLLECTION, rkey })).data.value).toMatchObject({ name: 'v2 by another app' });
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
    const op = await s.finished(del.body.id, token, { timeoutMs: 120_000 });
    expect(op.status).toBe('completed');
    expect(op.result).toMatchObject({ bluesky: 'deleted', attendeesRemoved: 5000 });
    expect(Object.values(await rowsReferencingEvent(s.ds, id)).every((n) => n === 0)).toBe(true);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE id = $1`, [id])).toEqual([]);
    expect(await synapseRoom(roomId)).toBeNull();
    expect(await pdsRecord(uri)).toBeNull();
  });

  it('a series shows only its next occurrence; publishing leaves every other column alone', async () => {
    const { token } = (await login()).body;
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCHours(18, 0, 0, 0);
    const series = await s.api('POST', '/v1/series', {
      token, body: { name: 'Published Series', rrule: 'FREQ=WEEKLY;COUNT=3', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), timeZone: 'UTC' },
    });
    expect(series.body.operations).toContainEqual({ id: `bsky-publish-series:${series.body.slug}`, type: 'bsky-publish-series' });
    const occurrences = await eventually(async () => {
      const rows = await s.ds.query(`SELECT slug FROM events WHERE series_slug = $1 ORDER BY start_at`, [series.body.slug]);
      return rows.length === 3 ? rows as { slug: string }[] : null;
    });
    const first = await published(occurrences[0].slug, token);
    expect((await pdsRecord(first.uri))?.value.uris).toContainEqual({ uri: `${s.config.PUBLIC_BASE_URL}/series/${series.body.slug}`, name: 'series' });

    // Asking to publish a later occurrence goes to the series' publisher, which still shows only the next one.
    const columns = `SELECT * FROM events WHERE series_slug = $1 ORDER BY start_at`;
    const withoutRecord = (rows: Record<string, unknown>[]) => rows.map(({ bluesky_uri, bluesky_cid, bluesky_rkey, bluesky_published_at, updated_at, ...rest }) => rest);
    const before = withoutRecord(await s.ds.query(columns, [series.body.slug]));
    const publisher = `bsky-publish-series:${series.body.slug}`;
    const rounds = async () => (await s.api('GET', `/v1/operations/${publisher}`, { token })).body.progress;
    await eventually(async () => (await rounds()).step !== 'publishing'); // the rounds of creation are over
    for (let i = 0; i < 3; i++) {
      const before = (await rounds()).rounds; // read before asking: the round may finish before the answer arrives
      const op = await s.api('POST', `/v1/events/${occurrences[2].slug}/bluesky`, { token });
      expect(op.body.id).toBe(publisher);
      await eventually(async () => { const p = await rounds(); return p.rounds > before && p.step !== 'publishing'; });
    }
    const after = await s.ds.query(columns, [series.body.slug]);
    expect(withoutRecord(after)).toEqual(before); // series link, template, times, owner: untouched
    expect(after.map((e: { bluesky_uri: string | null }) => e.bluesky_uri)).toEqual([first.uri, null, null]);
    const list = await alice.com.atproto.repo.listRecords({ repo: alice.session!.did, collection: EVENT_COLLECTION });
    expect(list.data.records.filter((r) => (r.value as { uris?: { uri: string }[] }).uris?.some((u) => u.uri.endsWith(`/series/${series.body.slug}`)))).toHaveLength(1);
  });

  it('publishes RSVP records of connected people and follows their changes', async () => {
    const carol = await pdsAccount(net, 'carol.test', 'carol-pass');
    const host = (await login()).body.token;
    const { token, user } = (await login('carol.test', 'carol-pass')).body;
    const { slug } = (await s.api('POST', '/v1/events', {
      token: host, body: { name: 'Meetup', startAt: '2027-09-01T18:00:00Z', endAt: '2027-09-01T20:00:00Z', timeZone: 'UTC', capacity: 1 },
    })).body;
    const event = await published(slug, host);
    const rsvpOf = async () => (await carol.com.atproto.repo.listRecords({ repo: carol.session!.did, collection: RSVP_COLLECTION }))
      .data.records.filter((r) => (r.value as { subject: { uri: string } }).subject.uri === event.uri);
    const rsvpStatusIs = (status: string) => eventually(async () => {
      const records = await rsvpOf();
      return records.length === 1 && (records[0].value as { status: string }).status === `${RSVP_COLLECTION}#${status}` ? records[0] : null;
    });

    const going = await s.api('POST', `/v1/events/${slug}/attendees`, { token, body: { status: 'going' } });
    expect(going.body.operations).toContainEqual({ id: `bsky-rsvp:${slug}/${user.slug}`, type: 'bsky-rsvp' });
    const record = await rsvpStatusIs('going');
    expect(record.value).toMatchObject({ $type: RSVP_COLLECTION, subject: { uri: event.uri, cid: event.cid } });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token, body: { status: 'interested' } });
    await rsvpStatusIs('interested');
    await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token });
    const cancelled = await rsvpStatusIs('notgoing');
    expect(cancelled.uri).toBe(record.uri); // one record per person and event, rewritten

    await s.api('POST', `/v1/events/${slug}/attendees`, { token, body: { status: 'going' } });
    await rsvpStatusIs('going');
    const del = await s.api('DELETE', `/v1/events/${slug}`, { token: host });
    const op = await s.finished(del.body.id, host);
    expect(op.result.rsvpRecords).toEqual({ deleted: 1, unreachable: 0, failed: 0, failedUris: [] });
    expect(await rsvpOf()).toEqual([]);
  });

  it('a deletion past its point of no return completes when an attendee\'s PDS is gone: that record is named, not retried forever', { timeout: 180_000 }, async () => {
    const gina = await pdsAccount(net, 'gina.test', 'gina-pass');
    const host = (await login()).body.token;
    const { token, user } = (await login('gina.test', 'gina-pass')).body;
    const { slug } = (await s.api('POST', '/v1/events', {
      token: host, body: { name: 'Vanishing PDS', startAt: '2027-10-01T18:00:00Z', endAt: '2027-10-01T20:00:00Z', timeZone: 'UTC' },
    })).body;
    await published(slug, host);
    await s.api('POST', `/v1/events/${slug}/attendees`, { token, body: { status: 'going' } });
    const uri = await eventually(async () => (await s.ds.query(
      `SELECT a.bluesky_uri FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, user.id]))[0]?.bluesky_uri);
    // Her session now names a PDS address where nothing answers (a new token, so no cached agent is reused).
    const store = sessionStore(s.redis, s.config);
    const stored = (await store.load(gina.session!.did))!;
    const dead = await freePort();
    await store.save(`http://127.0.0.1:${dead}`, { ...stored.session, accessJwt: `${stored.session.accessJwt}.moved` });

    const del = await s.api('DELETE', `/v1/events/${slug}`, { token: host });
    const op = await s.finished(del.body.id, host, { timeoutMs: 150_000 });
    expect(op.status).toBe('completed');
    expect(op.result.rsvpRecords).toEqual({ deleted: 0, unreachable: 0, failed: 1, failedUris: [uri] });
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
  });

  it('keeps retrying while the PDS is down and completes when it is back, each event with one record', async () => {
    const { token, user } = (await login()).body;
    const http = net.pds.server.server!;
    http.close();
    http.closeAllConnections();
    try {
      const names = ['Offline 1', 'Offline 2', 'Offline 3'];
      const slugs: string[] = [];
      for (const name of names) {
        slugs.push((await s.api('POST', '/v1/events', {
          token, body: { name, startAt: '2027-10-01T18:00:00Z', endAt: '2027-10-01T20:00:00Z', timeZone: 'UTC' },
        })).body.slug);
      }
      const op = `bsky-publisher:${user.id}`;
      // The activity fails and is retried (attempt > 1) while nothing is published.
      await eventually(async () => {
        const d = await s.temporal.workflow.getHandle(op).describe();
        return (d.raw.pendingActivities?.[0]?.attempt ?? 0) >= 2;
      }, { timeoutMs: 30_000 });
      expect((await s.api('GET', `/v1/events/${slugs[0]}`, { token })).body.bluesky).toBeNull();
      await new Promise<void>((resolve) => http.listen(net.pds.port, resolve));
      for (const [i, slug] of slugs.entries()) {
        const back = await published(slug, token);
        expect((await pdsRecord(back.uri))?.value.name).toBe(names[i]);
      }
      // The retried writes went to the keys saved before the first try: one record each.
      const list = await alice.com.atproto.repo.listRecords({ repo: alice.session!.did, collection: EVENT_COLLECTION, limit: 100 });
      for (const name of names) expect(list.data.records.filter((r) => (r.value as { name?: string }).name === name)).toHaveLength(1);
    } finally {
      if (!http.listening) await new Promise<void>((resolve) => http.listen(net.pds.port, resolve));
    }
  });

  it('a record the PDS refuses (too large) is set aside with its reason and holds up none of the author\'s other events', async () => {
    const { token, user } = (await login()).body;
    const create = async (name: string, extra: object = {}) => (await s.api('POST', '/v1/events', {
      token, body: { name, startAt: '2027-10-03T18:00:00Z', endAt: '2027-10-03T20:00:00Z', timeZone: 'UTC', ...extra },
    })).body.slug as string;
    // The PDS takes up to about 1 MB per call. The API's 50,000 characters of description stay
    // below that (300 KB as JSON, when each is escaped); a row written otherwise need not.
    const tooLarge = async (name: string) => {
      const slug = await create(name, { publishToBluesky: false });
      await s.ds.query(`UPDATE events SET description = repeat(chr(1), 200000) WHERE slug = $1`, [slug]);
      return slug;
    };

    // Through the publisher: the refused record first, then another event, which is published.
    const refused = await tooLarge('Too large');
    expect((await s.api('POST', `/v1/events/${refused}/bluesky`, { token })).status).toBe(202);
    await eventually(async () => (await s.api('GET', `/v1/operations/bsky-publisher:${user.id}`, { token })).body.progress?.last?.refused?.[0]?.slug === refused);
    const after = await create('After the refused one');
    await publishedAs(after, token, 'After the refused one');
    expect((await s.api('GET', `/v1/events/${refused}`, { token })).body.bluesky).toBeNull();

    // One round: four records the API allows, 1.2 MB together, are one commit the PDS refuses, so
    // each is written on its own; the one too large by itself is set aside.
    const wordy = await Promise.all([1, 2, 3, 4].map((i) => create(`Wordy ${i}`, { publishToBluesky: false, description: '\u0001'.repeat(50_000) })));
    const big = await tooLarge('Too large again');
    const { publishEventRecords } = blueskyActivities({ ds: s.ds, redis: s.redis, config: s.config });
    const round: EventsPublishResult = await new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(publishEventRecords, [...wordy, big]);
    expect(round).toMatchObject({ skipped: [], gone: [], refused: [{ slug: big, reason: expect.stringMatching(/^413 /) }] });
    expect([...round.published].sort()).toEqual([...wordy].sort());
    for (const [i, slug] of wordy.entries()) await publishedAs(slug, token, `Wordy ${i + 1}`);
  });

  it('a record written while its event is being deleted is removed again, and the row is left to its deletion', async () => {
    const { token } = (await login()).body;
    const { slug } = (await s.api('POST', '/v1/events', {
      token, body: { name: 'Raced', startAt: '2027-10-02T18:00:00Z', endAt: '2027-10-02T20:00:00Z', timeZone: 'UTC', publishToBluesky: false },
    })).body;
    const deps = { ds: s.ds, redis: s.redis, config: s.config };
    const agent = await agentFor(alice.session!.did, deps);
    const repo = agent.com.atproto.repo;
    const applyWrites = repo.applyWrites.bind(repo);
    // The deletion tombstones the event (and finds no record yet) while the write is on its way.
    repo.applyWrites = async (...args: Parameters<typeof applyWrites>) => {
      const written = await applyWrites(...args);
      await s.ds.query(`UPDATE events SET status = 'deleting' WHERE slug = $1`, [slug]);
      return written;
    };
    try {
      expect(await blueskyActivities(deps).publishEventRecords([slug])).toEqual({ published: [], skipped: [], gone: [slug], refused: [] });
    } finally {
      repo.applyWrites = applyWrites;
    }
    const [row] = await s.ds.query(`SELECT bluesky_rkey, bluesky_uri FROM events WHERE slug = $1`, [slug]);
    expect(row.bluesky_uri).toBeNull();
    expect(await pdsRecord(`at://x/y/${row.bluesky_rkey}`)).toBeNull();
  });

  it('a revoked session fails the publish with a typed error and disconnects the user; ingested events are never published', async () => {
    const bob = await pdsAccount(net, 'bob.test', 'bob-pass');
    const { token, user } = (await login('bob.test', 'bob-pass')).body;
    const ingested = await s.event(token);
    await s.ds.query(`UPDATE events SET source_type = 'bluesky', source_id = 'at://' || $2 || '/x/1' WHERE slug = $1`, [ingested.slug, user.did]);
    const skip = await s.api('POST', `/v1/events/${ingested.slug}/bluesky`, { token });
    const skipped = await eventually(async () => (await s.api('GET', `/v1/operations/${skip.body.id}`, { token })).body.progress?.last);
    expect(skipped).toEqual({ published: [], skipped: [{ slug: ingested.slug, reason: 'ingested from the network' }], gone: [], refused: [] });

    // Revoke: the stored refresh token is dead and the access token garbage.
    const store = sessionStore(s.redis, s.config);
    const stored = (await store.load(user.did))!;
    await bob.com.atproto.server.deleteSession(undefined, { headers: { authorization: `Bearer ${stored.session.refreshJwt}` } }).catch(() => undefined);
    await store.save(stored.service, { ...stored.session, accessJwt: 'revoked' });
    const { slug } = await s.event(token);
    const pub = await s.api('POST', `/v1/events/${slug}/bluesky`, { token });
    const failed = await s.finished(pub.body.id, token);
    expect(failed.status).toBe('failed');
    expect(failed.error.type).toBe(FAILURE.blueskySessionRevoked);
    expect((await s.ds.query(`SELECT bluesky_connected FROM users WHERE id = $1`, [user.id]))[0].bluesky_connected).toBe(false);
    expect((await s.api('GET', `/v1/events/${slug}`, { token })).body.bluesky).toBeNull();
  });
});
