import { describe, expect, it, vi } from 'vitest';
import type { IngestOp, LaneOp } from '../../src/domain/ingest.ts';
import { IngestLanes } from '../../src/firehose/lanes.ts';

const op = (uri: string): LaneOp => ({ uri, op: { kind: 'event-delete', sourceId: uri } as IngestOp });
const tick = () => new Promise((r) => setImmediate(r));

/** A fake Temporal: records each started batch; a batch ends when the test says so. */
function fakeTemporal() {
  const started: { lane: number; uris: string[]; end: () => void }[] = [];
  let failNext = 0;
  const handOff = async (lane: number, ops: LaneOp[]) => {
    if (failNext > 0) { failNext--; throw new Error('Temporal away'); }
    let end!: () => void;
    const ended = new Promise<void>((r) => { end = r; });
    started.push({ lane, uris: ops.map((o) => o.uri), end });
    return { result: () => ended };
  };
  return { started, handOff, failTimes: (n: number) => { failNext = n; } };
}

describe('the firehose hand-off lanes', () => {
  it('hands off one batch per lane at a time: what arrives meanwhile waits and goes as the next batch, in order', async () => {
    const t = fakeTemporal();
    const lanes = new IngestLanes(t.handOff, 1, () => {});
    const first = lanes.add('did:a', op('a1'));
    await first; // durable once its batch started
    expect(t.started.map((b) => b.uris)).toEqual([['a1']]);
    const later = [lanes.add('did:a', op('a2')), lanes.add('did:b', op('b1')), lanes.add('did:a', op('a3'))];
    await tick();
    expect(t.started).toHaveLength(1); // the first batch is still being applied
    t.started[0].end();
    await Promise.all(later);
    expect(t.started.map((b) => b.uris)).toEqual([['a1'], ['a2', 'b1', 'a3']]);
  });

  it('keeps an author on one lane, and spreads authors over lanes that run side by side', async () => {
    const t = fakeTemporal();
    const lanes = new IngestLanes(t.handOff, 4, () => {});
    await Promise.all(Array.from({ length: 40 }, (_, i) => lanes.add(`did:${i % 8}`, op(`${i % 8}/${i}`))));
    const laneOf = new Map<string, Set<number>>();
    for (const b of t.started) for (const uri of b.uris) {
      const did = uri.split('/')[0];
      laneOf.set(did, (laneOf.get(did) ?? new Set()).add(b.lane));
    }
    expect([...laneOf.values()].every((lanesOfDid) => lanesOfDid.size === 1)).toBe(true);
    expect(new Set(t.started.map((b) => b.lane)).size).toBeGreaterThan(1);
  });

  it('retries a failed start with the same batch first, so the order holds; stopped, what waits stays unsettled', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const t = fakeTemporal();
      const retries: number[] = [];
      const lanes = new IngestLanes(t.handOff, 1, (_lane, delay) => retries.push(delay));
      t.failTimes(2);
      const a1 = lanes.add('did:a', op('a1'));
      await vi.advanceTimersByTimeAsync(500);
      const a2 = lanes.add('did:a', op('a2')); // arrives while a1's batch is being retried
      await vi.advanceTimersByTimeAsync(1000);
      await a1;
      expect(retries).toEqual([500, 1000]);
      expect(t.started.map((b) => b.uris)).toEqual([['a1']]);
      t.started[0].end();
      await a2;
      expect(t.started.map((b) => b.uris)).toEqual([['a1'], ['a2']]);

      t.failTimes(1);
      t.started[1].end();
      let settled = false;
      void lanes.add('did:a', op('a3')).then(() => { settled = true; });
      await tick();
      lanes.stop();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(settled).toBe(false); // the consumer's cursor stays behind it
      expect(t.started).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
