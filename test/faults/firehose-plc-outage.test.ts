import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TID } from '@atproto/common-web';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { startFirehoseConsumer } from '../../src/firehose/consumer.ts';
import type { Config } from '../../src/config.ts';
import { idResolver } from '../../src/identity.ts';
import { Door } from '../helpers/door.ts';
import { pdsAccount, startPdsStack } from '../helpers/pds.ts';
import { eventually, type Stack } from '../helpers/stack.ts';

// The consumer verifies every commit against its author's key from the PLC directory. With the
// PLC unreachable (a TCP door in front of the local one, shut) nothing can be verified: those
// commits must wait and be retried, never dead-lettered or skipped past by the cursor.
let net: TestNetworkNoAppView;
let s: Stack;
let door: Door;
let consumer: Awaited<ReturnType<typeof startFirehoseConsumer>> | null = null;
let consumerConfig: Config;
beforeAll(async () => {
  ({ net, s } = await startPdsStack((n) => ({ FIREHOSE_SERVICE: n.pds.url.replace(/^http/, 'ws') })));
  door = await Door.create(new URL(net.plc.url).host.replace('localhost', '127.0.0.1'));
  consumerConfig = { ...s.config, BLUESKY_PLC_URL: `http://127.0.0.1:${door.port}` };
  consumer = await startFirehoseConsumer({ ...s, config: consumerConfig });
}, 120_000);
afterAll(async () => { await door?.open(); await consumer?.stop(); await s?.close(); await net?.close(); await door?.shut(); vi.restoreAllMocks(); });

describe('the firehose consumer while the PLC directory is unreachable', () => {
  it('holds the records it cannot verify, retries them, and ingests each once when the PLC is back: nothing dead-lettered, nothing skipped', { timeout: 300_000 }, async () => {
    const author = await pdsAccount(net, 'plcless.test');
    const since = new Date();
    await door.shut();
    const uris: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { data } = await author.com.atproto.repo.putRecord({
        repo: author.session!.did, collection: EVENT_COLLECTION, rkey: TID.nextStr(), validate: false,
        record: { $type: EVENT_COLLECTION, name: `Unverified ${i}`, createdAt: new Date().toISOString(), startsAt: '2027-05-01T18:00:00.000Z' },
      });
      uris.push(data.uri);
    }
    // Once it retries, everything before the first unverifiable commit is done: the cursor stops there.
    await eventually(async () => consumer!.stats.retried >= 2, { timeoutMs: 60_000 });
    const cursorDuringOutage = consumer!.stats.done();
    await eventually(async () => consumer!.stats.retried >= 4, { timeoutMs: 60_000 }); // it keeps trying
    const rows = async () => (await s.ds.query(`SELECT source_id FROM events WHERE source_id = ANY($1)`, [uris])).map((r: { source_id: string }) => r.source_id);
    expect(await rows()).toEqual([]);
    expect(consumer!.stats.done()).toBe(cursorDuringOutage); // not moved past what is unverified
    expect(consumer!.stats.cursor ?? 0).toBeLessThanOrEqual(cursorDuringOutage ?? 0); // nor saved past it (saves trail, at most 1 s)

    await door.open();
    await eventually(async () => (await rows()).length === uris.length, { timeoutMs: 120_000, intervalMs: 500 });
    expect((await rows()).sort()).toEqual([...uris].sort()); // each once
    const letters = await s.ds.query(`SELECT reason FROM ingestion_dead_letters WHERE created_at >= $1 AND source = 'firehose' AND (uri IS NULL OR uri LIKE $2)`, // not other files' letters
      [since, `at://${author.session!.did}/%`]);
    expect(letters).toEqual([]);
    await eventually(async () => (consumer!.stats.cursor ?? 0) > (cursorDuringOutage ?? 0));
  });

  it('an author whose key it has seen within the day is still verified while the PLC is away (the stale document is served, fetched again in the background)', { timeout: 120_000 }, async () => {
    await door.open();
    const author = await pdsAccount(net, 'cached.test');
    const did = author.session!.did;
    const put = async (name: string) => (await author.com.atproto.repo.putRecord({
      repo: did, collection: EVENT_COLLECTION, rkey: TID.nextStr(), validate: false,
      record: { $type: EVENT_COLLECTION, name, createdAt: new Date().toISOString(), startsAt: '2027-05-01T18:00:00.000Z' },
    })).data.uri;
    const ingested = async (uri: string) => (await s.ds.query(`SELECT 1 FROM events WHERE source_id = $1`, [uri])).length === 1;
    const first = await put('Cached 1');
    await eventually(() => ingested(first), { timeoutMs: 60_000 });
    // 16 minutes later (stale after 15, gone after a day), with the PLC unreachable.
    const entry = (idResolver(consumerConfig).did.cache as unknown as { cache: Map<string, { updatedAt: number }> }).cache.get(did)!;
    entry.updatedAt -= 16 * 60_000;
    await door.shut();
    const second = await put('Cached 2');
    await eventually(() => ingested(second), { timeoutMs: 60_000 });
    await door.open();
  });
});
