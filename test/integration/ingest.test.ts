import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtpAgent } from '@atproto/api';
import { TID } from '@atproto/common-web';
import { Secp256k1Keypair } from '@atproto/crypto';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../../src/domain/lexicon.ts';
import { startFirehoseConsumer } from '../../src/firehose/consumer.ts';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { applyActivities, type IngestResult } from '../../src/activities/ingest/apply.ts';
import { followUpRelay } from '../../src/follow-ups/outbox.ts';
import type { ExternalEvent } from '../../src/domain/ingest.ts';
import { eventually, type Stack } from '../helpers/stack.ts';
import { appPasswordLogin, pdsAccount, startPdsStack } from '../helpers/pds.ts';

// The whole pipeline on real services: a local PDS + PLC, its firehose, the consumer, the ingest
// workflows on the dev server, Postgres.
let net: TestNetworkNoAppView;
let s: Stack;
let firehose: string;
let consumer: Awaited<ReturnType<typeof startFirehoseConsumer>> | null = null;
beforeAll(async () => {
  ({ net, s } = await startPdsStack((n) => ({ FIREHOSE_SERVICE: n.pds.url.replace(/^http/, 'ws') })));
  firehose = s.config.FIREHOSE_SERVICE;
  consumer = await startFirehoseConsumer(s);
}, 120_000);
afterAll(async () => { await consumer?.stop(); await s?.close(); await net?.close(); });

const account = (handle: string) => pdsAccount(net, handle);
const eventRecord = (name: string, extra: Record<string, unknown> = {}) => ({
  $type: EVENT_COLLECTION, name, createdAt: new Date().toISOString(),
  startsAt: '2027-05-01T18:00:00.000Z', endsAt: '2027-05-01T20:00:00.000Z', ...extra,
});
const create = async (agent: AtpAgent, collection: string, record: Record<string, unknown>, rkey?: string) =>
  (await agent.com.atproto.repo.putRecord({ repo: agent.session!.did, collection, rkey: rkey ?? TID.nextStr(), record, validate: false })).data;
const ingested = (uri: string) => s.ds.query(
  `SELECT e.slug, e.name, e.source_cid, u.did, u.handle, u.is_shadow_account FROM events e JOIN users u ON u.id = e.owner_id WHERE e.source_id = $1`, [uri]);

describe('ingestion from the network', () => {
  it('makes a record of an unknown author an event of a shadow account, once, however often it arrives; updates and deletes follow', async () => {
    const zed = await account('zed.test');
    const first = await create(zed, EVENT_COLLECTION, eventRecord('Zed\'s Party', { description: 'bring snacks' }));
    const [row] = await eventually(async () => { const r = await ingested(first.uri); return r.length ? r : null; });
    expect(row).toMatchObject({ name: 'Zed\'s Party', source_cid: first.cid, did: zed.session!.did, handle: 'zed.test', is_shadow_account: true });

    // The same record through the integration API: the same workflow, no second event.
    const service = await s.token('ingest-service', 'service');
    const api = await s.api('POST', '/v1/integration/events', { token: service, body: {
      sourceType: 'bluesky', sourceId: first.uri, sourceCid: first.cid, creator: { did: zed.session!.did, handle: 'zed.test' },
      name: 'Zed\'s Party', startAt: '2027-05-01T18:00:00Z', endAt: '2027-05-01T20:00:00Z',
    } });
    expect(api.status).toBe(202);
    expect(api.body.id).toBe(`bsky-ingest:${first.uri}`);
    await eventually(async () => (await s.api('GET', `/v1/operations/${encodeURIComponent(api.body.id)}`, { token: service })).body.progress?.last?.state === 'unchanged');
    const bad = await s.api('POST', '/v1/integration/events', { token: service, body: { sourceType: 'bluesky', sourceId: 'not-a-uri', name: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');

    // The whole stream again from the start (as after a lost cursor): still one event.
    await consumer!.stop();
    await s.ds.query(`UPDATE firehose_cursors SET cursor = 0 WHERE service = $1`, [firehose]);
    consumer = await startFirehoseConsumer(s);
    await eventually(async () => (consumer!.stats.cursor ?? 0) > 0);
    expect(await ingested(first.uri)).toHaveLength(1);

    const updated = await create(zed, EVENT_COLLECTION, eventRecord('Zed\'s Big Party'), first.uri.split('/').pop());
    await eventually(async () => (await ingested(first.uri))[0]?.name === 'Zed\'s Big Party');
    expect((await ingested(first.uri))[0].source_cid).toBe(updated.cid);

    await zed.com.atproto.repo.deleteRecord({ repo: zed.session!.did, collection: EVENT_COLLECTION, rkey: first.uri.split('/').pop()! });
    await eventually(async () => (await ingested(first.uri)).length === 0);
  });

  it('skips meetflow\'s own event and RSVP records when they come back through the firehose (no loop)', async () => {
    const veraAgent = await account('vera.test');
    const umaAgent = await account('uma.test');
    const login = async (h: string) => (await appPasswordLogin(s, h)).body;
    const vera = await login('vera.test');
    const uma = await login('uma.test');
    const { slug } = (await s.api('POST', '/v1/events', {
      token: vera.token, body: { name: 'Published here', startAt: '2027-07-01T18:00:00Z', endAt: '2027-07-01T20:00:00Z', timeZone: 'UTC' },
    })).body;
    const uri = await eventually(async () => (await s.ds.query(`SELECT bluesky_uri FROM events WHERE slug = $1`, [slug]))[0].bluesky_uri as string | null);
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: uma.token, body: { status: 'going' } });
    await eventually(async () => (await s.ds.query(
      `SELECT a.bluesky_uri FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1`, [slug]))[0]?.bluesky_uri as string | null);
    // A record of each author's written after them: once it is in, theirs were applied before it
    // (an author's changes apply in order).
    for (const agent of [veraAgent, umaAgent]) {
      const marker = await create(agent, EVENT_COLLECTION, eventRecord('written after'));
      await eventually(async () => (await ingested(marker.uri)).length === 1);
    }
    expect(await s.ds.query(`SELECT 1 FROM events WHERE source_id = $1`, [uri])).toEqual([]);
    expect((await s.ds.query(`SELECT count(*)::int AS n FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1`, [slug]))[0].n).toBe(1);
  });

  it('the integration API alone: an event, an RSVP that waitlists when full, the deletion; service role only', async () => {
    const tara = await account('tara.test');
    const sam = await account('sam.test');
    const service = await s.token('ingest-service', 'service');
    const user = await s.user('Not a service');
    const sourceId = `at://${tara.session!.did}/${EVENT_COLLECTION}/${TID.nextStr()}`;
    const body = {
      sourceType: 'bluesky', sourceId, sourceCid: 'bafy-1', creator: { did: tara.session!.did, handle: 'tara.test' },
      name: 'Via the API', startAt: '2027-08-01T18:00:00Z', endAt: '2027-08-01T19:00:00Z',
    };
    expect((await s.api('POST', '/v1/integration/events', { token: user.token, body })).status).toBe(403);
    expect((await s.api('POST', '/v1/integration/events', { token: service, body })).status).toBe(202);
    const [event] = await eventually(async () => { const r = await ingested(sourceId); return r.length ? r : null; });
    expect(event).toMatchObject({ name: 'Via the API', did: tara.session!.did, is_shadow_account: true });
    await s.ds.query(`UPDATE events SET capacity = 0 WHERE source_id = $1`, [sourceId]);

    const rsvp = { sourceId: `at://${sam.session!.did}/${RSVP_COLLECTION}/${TID.nextStr()}`, sourceCid: 'bafy-r', eventSourceType: 'bluesky', eventSourceId: sourceId, userDid: sam.session!.did, status: 'going' };
    expect((await s.api('POST', '/v1/integration/rsvps', { token: service, body: rsvp })).status).toBe(202);
    const status = async () => (await s.ds.query(
      `SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.source_id = $1`, [sourceId]))[0]?.status;
    expect(await eventually(status)).toBe('waitlisted');
    expect((await s.api('POST', '/v1/integration/rsvps', { token: service, body: { ...rsvp, sourceCid: 'bafy-r2', status: 'interested' } })).status).toBe(202);
    await eventually(async () => (await status()) === 'maybe');

    const del = await s.api('DELETE', `/v1/integration/events?sourceType=bluesky&sourceId=${encodeURIComponent(sourceId)}`, { token: service });
    expect(del.status).toBe(202);
    await eventually(async () => (await ingested(sourceId)).length === 0);
  });

  it('an RSVP record deleted on the network cancels that RSVP (and frees the seat for the waitlist)', async () => {
    const host = await account('hana.test');
    const [first, second] = [await account('ivo.test'), await account('jun.test')];
    const event = await create(host, EVENT_COLLECTION, eventRecord('Hana\'s Workshop'));
    const [row] = await eventually(async () => { const r = await ingested(event.uri); return r.length ? r : null; });
    await s.ds.query(`UPDATE events SET capacity = 1 WHERE slug = $1`, [row.slug]);
    const rsvp = (agent: AtpAgent) => create(agent, RSVP_COLLECTION, {
      $type: RSVP_COLLECTION, subject: { uri: event.uri, cid: event.cid }, status: `${RSVP_COLLECTION}#going`, createdAt: new Date().toISOString(),
    });
    const statusOf = async (did: string) => (await s.ds.query(
      `SELECT a.status FROM attendees a JOIN users u ON u.id = a.user_id JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND u.did = $2`,
      [row.slug, did]))[0]?.status;
    const going = await rsvp(first);
    await eventually(async () => (await statusOf(first.session!.did)) === 'confirmed');
    await rsvp(second);
    await eventually(async () => (await statusOf(second.session!.did)) === 'waitlisted');

    await first.com.atproto.repo.deleteRecord({ repo: first.session!.did, collection: RSVP_COLLECTION, rkey: going.uri.split('/').pop()! });
    await eventually(async () => (await statusOf(first.session!.did)) === 'cancelled');
    await eventually(async () => (await statusOf(second.session!.did)) === 'confirmed');
  });

  it('one event per record: found again by its source URL (same author only) and by the author\'s rkey', async () => {
    const kim = await account('kim.test');
    const lee = await account('lee.test');
    const url = `https://events.example/kim/${TID.nextStr()}`;
    const first = await create(kim, EVENT_COLLECTION, eventRecord('Kim\'s Meetup', { uris: [{ uri: url }] }));
    const [row] = await eventually(async () => { const r = await ingested(first.uri); return r.length ? r : null; });
    // The author writes the event again under another rkey with the same link: the same event.
    const again = await create(kim, EVENT_COLLECTION, eventRecord('Kim\'s Meetup (new date)', { uris: [{ uri: url }] }));
    await eventually(async () => (await ingested(again.uri))[0]?.name === 'Kim\'s Meetup (new date)');
    expect((await ingested(again.uri))[0].slug).toBe(row.slug);
    expect(await ingested(first.uri)).toEqual([]);
    // Someone else linking the same URL makes their own event.
    const copy = await create(lee, EVENT_COLLECTION, eventRecord('Lee copies the link', { uris: [{ uri: url }] }));
    const [leeRow] = await eventually(async () => { const r = await ingested(copy.uri); return r.length ? r : null; });
    expect(leeRow.slug).not.toBe(row.slug);

    // The same rkey under another collection (an app that moved its records): the same event.
    const service = await s.token('ingest-service', 'service');
    const rkey = again.uri.split('/').pop()!;
    const moved = `at://${kim.session!.did}/events.example.calendar.event/${rkey}`;
    expect((await s.api('POST', '/v1/integration/events', { token: service, body: {
      sourceType: 'bluesky', sourceId: moved, sourceCid: 'bafy-moved', creator: { did: kim.session!.did },
      name: 'Kim\'s Meetup (moved)', startAt: '2027-05-01T18:00:00Z', endAt: '2027-05-01T20:00:00Z',
    } })).status).toBe(202);
    await eventually(async () => (await ingested(moved))[0]?.name === 'Kim\'s Meetup (moved)');
    expect((await ingested(moved))[0].slug).toBe(row.slug);
    const [{ n }] = await s.ds.query(`SELECT count(*)::int AS n FROM events e JOIN users u ON u.id = e.owner_id WHERE u.did = $1`, [kim.session!.did]);
    expect(n).toBe(1);
  });

  it('an author\'s new events beyond their quota are skipped, in order; changes to their events still apply, and other authors go on', async () => {
    const [quinn, other] = [await account('quinn.test'), await account('rita.test')];
    const config = { ...s.config, INGEST_MAX_EVENTS_PER_AUTHOR: 3 };
    const { ingestEvents } = applyActivities({ ds: s.ds, temporal: s.temporal, config, followUps: followUpRelay({ ds: s.ds, temporal: s.temporal, config }) });
    const ext = (agent: AtpAgent, rkey: string, name: string) => ({
      sourceType: 'bluesky', sourceId: `at://${agent.session!.did}/${EVENT_COLLECTION}/${rkey}`, sourceCid: `bafy-${name}`, sourceUrl: null,
      creator: { did: agent.session!.did, handle: null }, name, description: null, startAt: '2027-05-01T18:00:00.000Z', endAt: '2027-05-01T20:00:00.000Z',
      timeZone: 'UTC', location: null, onlineUrl: null, country: null, status: 'published',
    }) as ExternalEvent;
    const run = (es: ExternalEvent[]) => new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(ingestEvents, es) as Promise<IngestResult[]>;
    const states = (rs: IngestResult[]) => rs.map((r) => r.state);

    // Five new records in one batch: three events, the last two skipped as over the quota.
    const first = await run([...['q1', 'q2', 'q3', 'q4', 'q5'].map((k) => ext(quinn, k, k)), ext(other, 'o1', 'o1')]);
    expect(states(first)).toEqual(['created', 'created', 'created', 'skipped', 'skipped', 'created']);
    expect((first[3] as { reason: string }).reason).toMatch(/quota/);
    const count = async (did: string) => (await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE source_did = $1`, [did]))[0].n;
    expect(await count(quinn.session!.did)).toBe(3);
    // At the quota: a change to one of the three applies, a new record does not.
    const second = await run([ext(quinn, 'q1', 'q1-renamed'), ext(quinn, 'q6', 'q6')]);
    expect(states(second)).toEqual(['updated', 'skipped']);
    expect(await count(quinn.session!.did)).toBe(3);
    expect(await count(other.session!.did)).toBe(1);
  });

  it('parks an RSVP that arrives before its event and applies it when the event comes', async () => {
    const host = await account('yara.test');
    const guest = await account('xavi.test');
    const rkey = TID.nextStr();
    const eventUri = `at://${host.session!.did}/${EVENT_COLLECTION}/${rkey}`;
    const rsvp = await create(guest, RSVP_COLLECTION, {
      $type: RSVP_COLLECTION, subject: { uri: eventUri, cid: 'bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5ijbrfs7gu4kd3m' },
      status: `${RSVP_COLLECTION}#going`, createdAt: new Date().toISOString(),
    });
    const op = `bsky-ingest:${rsvp.uri}`;
    await eventually(async () => (await s.temporal.workflow.getHandle(op).query<{ step: string }>('progress').catch(() => null))?.step === 'parked');
    await create(host, EVENT_COLLECTION, eventRecord('Yara\'s Talk'), rkey);
    const attendee = await eventually(async () => (await s.ds.query(
      `SELECT a.status, a.source_id, u.did, u.is_shadow_account FROM attendees a JOIN users u ON u.id = a.user_id
        JOIN events e ON e.id = a.event_id WHERE e.source_id = $1`, [eventUri]))[0], { timeoutMs: 30_000 });
    expect(attendee).toEqual({ status: 'confirmed', source_id: rsvp.uri, did: guest.session!.did, is_shadow_account: true });
  });

  it('a parked RSVP\'s later changes follow it to its own workflow: applied after it, in order, never around it', async () => {
    const host = await account('wren.test');
    const guest = await account('vale.test');
    const rkey = TID.nextStr();
    const eventUri = `at://${host.session!.did}/${EVENT_COLLECTION}/${rkey}`;
    const rsvpRecord = (status: string) => ({
      $type: RSVP_COLLECTION, subject: { uri: eventUri, cid: 'bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5ijbrfs7gu4kd3m' },
      status: `${RSVP_COLLECTION}#${status}`, createdAt: new Date().toISOString(),
    });
    const going = await create(guest, RSVP_COLLECTION, rsvpRecord('going'));
    const op = s.temporal.workflow.getHandle(`bsky-ingest:${going.uri}`);
    await eventually(async () => (await op.query<{ step: string }>('progress').catch(() => null))?.step === 'parked');
    // The event arrives (applied by a lane), then the guest changes their mind while the first
    // RSVP still waits on its timer: the change goes behind it, not straight to the rows.
    await create(host, EVENT_COLLECTION, eventRecord('Wren\'s Walk'), rkey);
    await eventually(async () => (await ingested(eventUri)).length === 1);
    await create(guest, RSVP_COLLECTION, rsvpRecord('interested'), going.uri.split('/').pop());
    await eventually(async () => (await op.query<{ applied: number; step: string }>('progress')).applied >= 2, { timeoutMs: 60_000 });
    const [attendee] = await s.ds.query(
      `SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.source_id = $1`, [eventUri]);
    expect(attendee).toEqual({ status: 'maybe' }); // the later change won
    expect(await s.ds.query(`SELECT uri FROM ingest_forwarded WHERE uri = $1`, [going.uri])).toHaveLength(1);
  });

  it('dead-letters a change whose commit is not signed with the key its author\'s DID names (a fresh key is tried first)', async () => {
    const forger = await account('forger.test');
    // The DID document now names another signing key; the PDS still signs with the old one.
    await net.pds.ctx.plcClient.updateAtprotoKey(forger.session!.did, net.pds.ctx.plcRotationKey, (await Secp256k1Keypair.create()).did());
    const forged = await create(forger, EVENT_COLLECTION, eventRecord('Not signed by its author'));
    const [letter] = await eventually(async () => {
      const rows = await s.ds.query(`SELECT reason, collection FROM ingestion_dead_letters WHERE uri = $1`, [forged.uri]);
      return rows.length ? rows : null;
    });
    expect(letter).toEqual({ reason: expect.stringMatching(/^unverifiable commit: Invalid signature/), collection: EVENT_COLLECTION });
    expect(await ingested(forged.uri)).toEqual([]);
  });

  it('dead-letters 200 malformed records of various kinds and keeps consuming', async () => {
    const mallory = await account('mallory.test');
    const kinds: Record<string, unknown>[] = [
      { $type: EVENT_COLLECTION, createdAt: new Date().toISOString(), startsAt: '2027-01-01T00:00:00Z' }, // no name
      { $type: EVENT_COLLECTION, name: 'no start', createdAt: new Date().toISOString() },
      { $type: EVENT_COLLECTION, name: 'bad start', startsAt: 'next tuesday' },
      { $type: EVENT_COLLECTION, name: 42, startsAt: '2027-01-01T00:00:00Z' },
      { $type: EVENT_COLLECTION, name: 'ends before it starts', startsAt: '2027-01-02T00:00:00Z', endsAt: '2027-01-01T00:00:00Z' },
      { $type: EVENT_COLLECTION, name: 'locations not a list', startsAt: '2027-01-01T00:00:00Z', locations: 'here' },
      { $type: RSVP_COLLECTION, status: `${RSVP_COLLECTION}#going` }, // no subject
      { $type: RSVP_COLLECTION, subject: { uri: 'https://example.com/not-at' }, status: `${RSVP_COLLECTION}#going` },
      { $type: RSVP_COLLECTION, subject: { uri: `at://${mallory.session!.did}/${EVENT_COLLECTION}/x` }, status: 'maybe-ish' },
      { $type: RSVP_COLLECTION, subject: 'flat string', status: `${RSVP_COLLECTION}#going` },
    ];
    const uris: string[] = [];
    for (let i = 0; i < 200; i++) {
      const record = kinds[i % kinds.length];
      const collection = record.$type as string;
      uris.push((await create(mallory, collection, record)).uri);
    }
    const good = await create(mallory, EVENT_COLLECTION, eventRecord('After the junk'));
    await eventually(async () => (await ingested(good.uri)).length === 1, { timeoutMs: 60_000 });
    const [{ n, reasons }] = await s.ds.query(
      `SELECT count(*)::int AS n, count(DISTINCT split_part(reason, ':', 2))::int AS reasons FROM ingestion_dead_letters WHERE uri = ANY($1)`, [uris]);
    expect(n).toBe(200);
    expect(reasons).toBeGreaterThan(3);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE source_id = ANY($1)`, [uris])).toEqual([]);
  });

  it('a consumer killed (SIGKILL) and restarted while records are created: every record exists exactly once', async () => {
    await consumer!.stop();
    consumer = null;
    const spawnConsumer = async () => {
      const child = spawn(process.execPath, ['src/firehose/main.ts'], {
        env: { ...process.env, LOG_FILE: '', TEMPORAL_TASK_QUEUE: s.config.TEMPORAL_TASK_QUEUE, BLUESKY_PLC_URL: net.plc.url, FIREHOSE_SERVICE: firehose },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      child.stdout.on('data', (d) => { log += d; });
      child.stderr.on('data', (d) => { log += d; });
      await eventually(async () => log.includes('firehose consumer reading'), { timeoutMs: 30_000 });
      return child;
    };
    const wes = await account('wes.test');
    let child = await spawnConsumer();
    const uris: string[] = [];
    for (let i = 0; i < 60; i++) {
      uris.push((await create(wes, EVENT_COLLECTION, eventRecord(`Stream ${i}`))).uri);
      if (i === 20) {
        await eventually(async () => (await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE source_id = ANY($1)`, [uris]))[0].n > 5);
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      if (i === 40) child = await spawnConsumer();
    }
    try {
      await eventually(async () => (await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE source_id = ANY($1)`, [uris]))[0].n === 60, { timeoutMs: 60_000 });
      const [{ n, distinct }] = await s.ds.query(
        `SELECT count(*)::int AS n, count(DISTINCT source_id)::int AS distinct FROM events WHERE source_did = $1`, [wes.session!.did]);
      expect({ n, distinct }).toEqual({ n: 60, distinct: 60 });
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
