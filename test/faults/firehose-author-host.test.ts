import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TID } from '@atproto/common-web';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../../src/domain/lexicon.ts';
import { opFromRecord, type LaneOp } from '../../src/domain/ingest.ts';
import { ingestActivities, type LaneResult } from '../../src/activities/ingest/index.ts';
import { followUpRelay } from '../../src/follow-ups/outbox.ts';
import { startFirehoseConsumer } from '../../src/firehose/consumer.ts';
import { Door } from '../helpers/door.ts';
import { FakeRelay, type RelayAuthor } from '../helpers/fake-relay.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// A did:web author's signing key comes from the author's own domain. One whose host refuses (a
// door in front of its DID document, shut) must not hold the cursor for good: after
// FIREHOSE_AUTHOR_HOST_WAIT_MS its commit is dead-lettered and the stream goes on. (The PLC
// directory, everyone's, is waited for without limit: firehose-plc-outage.test.ts.)
const HOST_WAIT_MS = 1500;
let s: Stack;
let relay: FakeRelay;
let docs: Server;
let door: Door;
let hostile: RelayAuthor;
let consumer: Awaited<ReturnType<typeof startFirehoseConsumer>> | null = null;
beforeAll(async () => {
  relay = await FakeRelay.start();
  s = await startStack();
  await s.startWorker();
  let doc: unknown;
  docs = createServer((req, res) => {
    if (req.url !== '/.well-known/did.json') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
  });
  await new Promise<void>((ok) => docs.listen(0, '127.0.0.1', ok));
  door = await Door.create(`127.0.0.1:${(docs.address() as AddressInfo).port}`, { open: false });
  hostile = await relay.author(`did:web:localhost%3A${door.port}`);
  doc = {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'], id: hostile.did, alsoKnownAs: [],
    verificationMethod: [{ id: `${hostile.did}#atproto`, type: 'Multikey', controller: hostile.did, publicKeyMultibase: hostile.keypair.did().slice('did:key:'.length) }],
    service: [],
  };
  consumer = await startFirehoseConsumer({
    ...s, config: { ...s.config, BLUESKY_PLC_URL: 'http://127.0.0.1:9', FIREHOSE_AUTHOR_HOST_WAIT_MS: HOST_WAIT_MS },
  }, relay.url);
}, 120_000);
afterAll(async () => {
  await consumer?.stop(); await s?.close(); await relay?.close(); await door?.shut();
  await new Promise((ok) => docs?.close(ok) ?? ok(null));
});

const eventRecord = (name: string) => ({ $type: EVENT_COLLECTION, name, createdAt: new Date().toISOString(), startsAt: '2027-05-01T18:00:00.000Z' });
const ingested = async (uris: string[]) =>
  (await s.ds.query(`SELECT source_id FROM events WHERE source_id = ANY($1)`, [uris])).map((r: { source_id: string }) => r.source_id).sort();

describe('the firehose consumer and an author whose own identity host does not answer', () => {
  it('holds the stream for FIREHOSE_AUTHOR_HOST_WAIT_MS, no longer: that commit and the next are dead-lettered, everyone else\'s ingested; an answer ends it', { timeout: 180_000 }, async () => {
    const since = new Date();
    const letters = async () => (await s.ds.query(
      `SELECT uri, reason FROM ingestion_dead_letters WHERE source = 'firehose' AND created_at >= $1 AND uri LIKE $2 ORDER BY id`, [since, `at://${hostile.did}/%`])) as { uri: string; reason: string }[];
    const honest = await relay.author();
    const held = await relay.create(hostile, EVENT_COLLECTION, TID.nextStr(), eventRecord('Hostile 1'));
    const others = [await relay.create(honest, EVENT_COLLECTION, TID.nextStr(), eventRecord('Honest 1')),
      await relay.create(honest, EVENT_COLLECTION, TID.nextStr(), eventRecord('Honest 2'))];

    // Retried as a passing failure at first, then given up: the stream goes on past it.
    await eventually(async () => (await letters()).length === 1, { timeoutMs: 60_000 });
    expect(consumer!.stats.retried).toBeGreaterThan(0);
    const [letter] = await letters();
    expect(letter.uri).toBe(held);
    expect(letter.reason).toMatch(new RegExp(`^unverifiable commit: identity host of ${hostile.did} unavailable for \\d+ s`));
    await eventually(async () => (await ingested(others)).length === 2, { timeoutMs: 60_000 });
    await eventually(async () => (consumer!.stats.done() ?? 0) >= relay.lastSeq);

    // The same author again, the host still refusing: failed for good at once (the host is not asked again within the wait).
    const next = await relay.create(hostile, EVENT_COLLECTION, TID.nextStr(), eventRecord('Hostile 2'));
    await eventually(async () => (await letters()).length === 2, { timeoutMs: 60_000 });
    expect((await letters()).map((l) => l.uri)).toEqual([held, next]);

    // The host answers again; asked once the wait since it was last asked has passed (at the
    // latest when `next` was let go), the author's commits verify and are ingested.
    await door.open();
    await new Promise((r) => setTimeout(r, HOST_WAIT_MS));
    const after = await relay.create(hostile, EVENT_COLLECTION, TID.nextStr(), eventRecord('Hostile 3'));
    await eventually(async () => (await ingested([after])).length === 1, { timeoutMs: 60_000 });
    expect((await letters()).map((l) => l.uri)).toEqual([held, next]);
    expect(await ingested([held, next])).toEqual([]);
    await eventually(async () => (consumer!.stats.done() ?? 0) >= relay.lastSeq);
  });

  it('a host that takes connections and never answers is given up the same way: a commit signed with another key than the cached one asks the host again', { timeout: 180_000 }, async () => {
    const since = new Date();
    door.stall(); // each ask ends at the resolver's timeout
    const impostor = { ...await relay.author(hostile.did), storage: hostile.storage, repo: hostile.repo }; // the same repo, another key
    const honest = await relay.author();
    const held = await relay.create(impostor, EVENT_COLLECTION, TID.nextStr(), eventRecord('Hostile 4'));
    const other = await relay.create(honest, EVENT_COLLECTION, TID.nextStr(), eventRecord('Honest 3'));
    const letters = () => s.ds.query(`SELECT uri, reason FROM ingestion_dead_letters WHERE source = 'firehose' AND created_at >= $1 AND uri LIKE $2`, [since, `at://${hostile.did}/%`]);
    await eventually(async () => (await letters()).length > 0, { timeoutMs: 90_000 });
    expect(await letters()).toEqual([{ uri: held, reason: expect.stringMatching(new RegExp(`^unverifiable commit: identity host of ${hostile.did} unavailable for \\d+ s`)) }]);
    expect(await ingested([held, other])).toEqual([other]);
    await eventually(async () => (consumer!.stats.done() ?? 0) >= relay.lastSeq); // the cursor passes both
  });
});

describe('an ingest batch and hostile authors', () => {
  it('looks their DID documents up side by side, the whole batch within one wait: 40 RSVPs from 40 such authors ask at most 16 hosts, not each in turn', { timeout: 180_000 }, async () => {
    // 40 did:web hosts that take the connection and never answer, counting the connections.
    let asked = 0;
    const held: Socket[] = [];
    const hosts = await Promise.all(Array.from({ length: 40 }, async () => {
      const server = createTcpServer((socket) => { asked++; held.push(socket); });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      return server;
    }));
    try {
      const config = { ...s.config, BLUESKY_PLC_URL: 'http://127.0.0.1:9' }; // loopback: did:web:localhost is fetched over http
      const { applyIngestBatch } = ingestActivities({ ds: s.ds, temporal: s.temporal, config, followUps: followUpRelay({ ds: s.ds, temporal: s.temporal, config }) });
      const organizer = (await relay.author()).did;
      const eventUri = `at://${organizer}/${EVENT_COLLECTION}/${TID.nextStr()}`;
      const cid = 'bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5ijbrfs7gu4kd3m';
      const change = (uri: string, collection: string, record: unknown): LaneOp => ({ uri, op: opFromRecord({ uri, collection, did: uri.split('/')[2], cid, record }) });
      const guests = hosts.map((h) => `did:web:localhost%3A${(h.address() as AddressInfo).port}`);
      const ops = [change(eventUri, EVENT_COLLECTION, eventRecord('Many new guests')), ...guests.map((did) => change(`at://${did}/${RSVP_COLLECTION}/${TID.nextStr()}`, RSVP_COLLECTION, {
        $type: RSVP_COLLECTION, subject: { uri: eventUri, cid }, status: `${RSVP_COLLECTION}#going`, createdAt: new Date().toISOString(),
      }))];

      const result = await new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(applyIngestBatch, ops) as LaneResult;
      expect(result).toEqual({ applied: 41, unchanged: 0, skipped: 0, forwarded: 0 });
      expect(asked).toBeGreaterThan(0);
      expect(asked).toBeLessThanOrEqual(16);
      // Each guest has a shadow account, named by its DID (its document never came), and is going.
      const rows = await s.ds.query(
        `SELECT u.did, u.display_name, a.status FROM attendees a JOIN users u ON u.id = a.user_id JOIN events e ON e.id = a.event_id WHERE e.source_id = $1`, [eventUri]);
      expect(rows.map((r: { did: string }) => r.did).sort()).toEqual([...guests].sort());
      for (const r of rows) expect(r).toEqual({ did: r.did, display_name: r.did, status: 'confirmed' });
    } finally {
      for (const socket of held) socket.destroy();
      await Promise.all(hosts.map((h) => new Promise((ok) => h.close(ok))));
    }
  });

  it('an author\'s RSVPs to events that never come wait in workflows of their own up to INGEST_MAX_WAITING_PER_AUTHOR; the rest are dead-lettered once, a retried batch adds none', { timeout: 120_000 }, async () => {
    const config = { ...s.config, INGEST_MAX_WAITING_PER_AUTHOR: 3 };
    const { applyIngestBatch } = ingestActivities({ ds: s.ds, temporal: s.temporal, config, followUps: followUpRelay({ ds: s.ds, temporal: s.temporal, config }) });
    const [spammer, guest] = [(await relay.author()).did, (await relay.author()).did];
    const cid = 'bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5ijbrfs7gu4kd3m';
    const rsvpTo = (did: string): LaneOp => {
      const uri = `at://${did}/${RSVP_COLLECTION}/${TID.nextStr()}`;
      return { uri, op: opFromRecord({ uri, collection: RSVP_COLLECTION, did, cid, record: {
        $type: RSVP_COLLECTION, subject: { uri: `at://${did}/${EVENT_COLLECTION}/${TID.nextStr()}`, cid }, status: `${RSVP_COLLECTION}#going`, createdAt: new Date().toISOString(),
      } }) };
    };
    const spam = Array.from({ length: 5 }, () => rsvpTo(spammer));
    const ops = [...spam, rsvpTo(guest)];
    const run = (attempt: number) => new MockActivityEnvironment({ attempt }, { logger: new DefaultLogger('ERROR') }).run(applyIngestBatch, ops) as Promise<LaneResult>;

    expect(await run(1)).toEqual({ applied: 0, unchanged: 0, skipped: 2, forwarded: 4 }); // 3 of the spammer's, the guest's
    const letters = () => s.ds.query(`SELECT uri, reason FROM ingestion_dead_letters WHERE source = 'ingest' AND uri LIKE $1 ORDER BY id`, [`at://${spammer}/%`]);
    expect((await letters()).map((l: { uri: string }) => l.uri)).toEqual(spam.slice(3).map((o) => o.uri));
    expect((await letters())[0].reason).toMatch(new RegExp(`has not arrived, and 3 records of ${spammer} wait for theirs already$`));
    for (const o of [...spam.slice(0, 3), ops[5]]) expect((await s.temporal.workflow.getHandle(`bsky-ingest:${o.uri}`).describe()).status.name).toBe('RUNNING');
    for (const o of spam.slice(3)) await expect(s.temporal.workflow.getHandle(`bsky-ingest:${o.uri}`).describe()).rejects.toThrow(/not found/i);

    // The batch again (a retry): the waiting ones follow their workflows, the others are skipped again and not kept twice.
    expect(await run(2)).toEqual({ applied: 0, unchanged: 0, skipped: 2, forwarded: 4 });
    expect((await letters()).map((l: { uri: string }) => l.uri)).toEqual(spam.slice(3).map((o) => o.uri));
  });
});
