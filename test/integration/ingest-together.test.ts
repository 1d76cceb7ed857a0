import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.ts';
import type { IngestResult } from '../../src/activities/ingest/index.ts';
import { ExternalEventSchema, type ExternalEvent } from '../../src/domain/ingest.ts';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

// The firehose's batches apply the event changes of distinct records in one statement; on real
// Postgres each must come out as it would alone, in order, whatever the batch mixes.
let s: Stack;
// No PLC: an unknown author's shadow account is named from the record (the lookup is refused at once).
beforeAll(async () => { s = await startStack({ BLUESKY_PLC_URL: 'http://127.0.0.1:1' }); }, 60_000);
afterAll(async () => { await s?.close(); });

const author = () => `did:plc:${randomUUID().replaceAll('-', '').slice(0, 24)}`;
const record = (did: string, name: string, extra: Partial<ExternalEvent> = {}) => ExternalEventSchema.parse({
  sourceType: 'bluesky', sourceId: `at://${did}/${EVENT_COLLECTION}/${randomUUID().slice(0, 13)}`, sourceCid: `bafy${randomUUID().slice(0, 8)}`,
  creator: { did, handle: null }, name, startAt: '2027-05-01T18:00:00Z', endAt: '2027-05-01T20:00:00Z', ...extra,
});
const rowOf = async (uri: string) => (await s.ds.query(
  `SELECT e.slug, e.name, e.status, e.source_id, u.did, u.is_shadow_account FROM events e JOIN users u ON u.id = e.owner_id WHERE e.source_id = $1`, [uri]))[0];

describe('event changes from the network applied together', () => {
  it('each comes out as it would alone: new authors, the same source URL twice, meetflow\'s own record, a tombstone, another author\'s URI, a refused group', async () => {
    const { ingestEvents } = createActivities({ ds: s.ds, redis: s.redis, temporal: s.temporal, config: s.config, matrix: null });
    // The refused group below fails on purpose: its activity-failure line stays out of the output.
    const apply = (es: ExternalEvent[]): Promise<IngestResult[]> => new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(ingestEvents, es);
    const [ann, ben, cat] = [author(), author(), author()];
    const url = `https://events.example/${randomUUID()}`;
    const first = record(ann, 'First', { sourceUrl: url });
    const sameLink = record(ann, 'Same link, new date', { sourceUrl: url });
    const bens = record(ben, 'Ben\'s');
    // meetflow's own record coming back, and a record claimed for an author whose repo does not hold it.
    const owner = await s.user('Owner');
    const own = (await s.api('POST', '/v1/events', { token: owner.token, body: { name: 'Ours', startAt: '2027-06-01T18:00:00Z', endAt: '2027-06-01T20:00:00Z', timeZone: 'UTC' } })).body;
    const ownUri = `at://${cat}/${EVENT_COLLECTION}/ours`;
    await s.ds.query(`UPDATE events SET bluesky_uri = $2 WHERE slug = $1`, [own.slug, ownUri]);
    const ours = { ...record(cat, 'Ours again'), sourceId: ownUri };
    const forged = { ...record(cat, 'Forged'), sourceId: `at://${ann}/${EVENT_COLLECTION}/forged` };

    // Authors never seen before (their shadow accounts made on the way), and the rest skipped.
    expect((await apply([first, bens, ours, forged])).map((r) => r.state)).toEqual(['created', 'created', 'skipped', 'skipped']);
    expect(await rowOf(first.sourceId)).toMatchObject({ name: 'First', did: ann, is_shadow_account: true });
    expect(await rowOf(bens.sourceId)).toMatchObject({ name: 'Ben\'s', did: ben, is_shadow_account: true });
    expect((await s.ds.query(`SELECT name FROM events WHERE slug = $1`, [own.slug]))[0].name).toBe('Ours');
    expect(await rowOf(forged.sourceId)).toBeUndefined();
    expect((await s.ds.query(`SELECT reason FROM ingestion_dead_letters WHERE uri = $1`, [forged.sourceId]))[0].reason).toContain('is not a record of');

    // The same CID changes nothing, a new one updates, a tombstone stays one; the author's same
    // link under another record is the same event (found again by URL).
    await s.ds.query(`UPDATE events SET status = 'deleting' WHERE source_id = $1`, [bens.sourceId]);
    const again = await apply([first, { ...bens, sourceCid: 'bafynew', name: 'Ben\'s, renamed' }, sameLink]);
    expect(again.map((r) => r.state)).toEqual(['unchanged', 'updated', 'updated']);
    expect(await rowOf(bens.sourceId)).toMatchObject({ name: 'Ben\'s, renamed', status: 'deleting' });
    expect(await rowOf(sameLink.sourceId)).toMatchObject({ name: 'Same link, new date', slug: (again[0] as { slug: string }).slug });

    // Two records that meet (the same author's same link) in one call: the second finds the first, as one at a time.
    const dan = author();
    const link = `https://events.example/${randomUUID()}`;
    const pair = await apply([record(dan, 'One', { sourceUrl: link }), record(dan, 'Two', { sourceUrl: link })]);
    expect(pair.map((r) => r.state)).toEqual(['created', 'updated']);
    expect((pair[1] as { slug: string }).slug).toBe((pair[0] as { slug: string }).slug);
    const [{ n }] = await s.ds.query(`SELECT count(*)::int AS n FROM events e JOIN users u ON u.id = e.owner_id WHERE u.did = ANY($1)`, [[ann, ben, cat, dan]]);
    expect(n).toBe(3);

    // A group the database refuses (an end before its start) writes nothing, not even its dead
    // letters: the retry, or each change alone, writes them once.
    const forgedAgain = { ...record(cat, 'Forged again'), sourceId: `at://${ann}/${EVENT_COLLECTION}/forged-again` };
    await expect(apply([forgedAgain, { ...record(dan, 'Broken'), endAt: '2027-04-01T00:00:00Z' }])).rejects.toThrow(/check constraint/);
    expect(await s.ds.query(`SELECT 1 FROM ingestion_dead_letters WHERE uri = $1`, [forgedAgain.sourceId])).toEqual([]);
    await apply([forgedAgain]);
    expect(await s.ds.query(`SELECT 1 FROM ingestion_dead_letters WHERE uri = $1`, [forgedAgain.sourceId])).toHaveLength(1);
  });
});
