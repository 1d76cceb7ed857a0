import { describe, expect, it, vi } from 'vitest';
import { DurableRunner } from '../../src/firehose/runner.ts';
import { log } from '../../src/logger.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

function runner(maxInFlight = 100) {
  const log = { cursors: [] as number[], full: 0, room: 0, retries: [] as number[] };
  const r = new DurableRunner({
    maxInFlight, setCursor: async (c) => { log.cursors.push(c); },
    onFull: () => { log.full++; }, onRoom: () => { log.room++; }, onRetry: (seq) => { log.retries.push(seq); },
  });
  return { r, log };
}

describe('the firehose runner', () => {
  it('keeps each repo in order, runs repos side by side, and moves the cursor over a gap-free prefix only', async () => {
    const { r, log } = runner();
    const order: string[] = [];
    let releaseA!: () => void;
    const blockA = new Promise<void>((ok) => { releaseA = ok; });
    const a1 = r.trackEvent('did:a', 1, async () => { await blockA; order.push('a1'); });
    const a2 = r.trackEvent('did:a', 2, async () => { order.push('a2'); });
    const b3 = r.trackEvent('did:b', 3, async () => { order.push('b3'); });
    await b3;
    expect(order).toEqual(['b3']); // b ran while a waited
    expect(r.getCursor()).toBeUndefined(); // 1 and 2 are not done: the cursor may not pass them
    releaseA();
    await Promise.all([a1, a2]);
    expect(order).toEqual(['b3', 'a1', 'a2']);
    expect(r.getCursor()).toBe(3);
    expect(log.cursors.at(-1)).toBe(3);
  });

  it('runs an event again after a passing failure (thrown or marked), and skips redeliveries of what it holds or finished', async () => {
    const { r, log } = runner();
    let attempts = 0;
    await r.trackEvent('did:a', 1, async () => { attempts++; if (attempts === 1) throw new Error('Postgres away'); if (attempts === 2) r.retryLater(1); });
    expect(attempts).toBe(3);
    expect(log.retries).toEqual([1, 1]);
    expect(r.getCursor()).toBe(1);
    let again = 0;
    await r.trackEvent('did:a', 1, async () => { again++; }); // redelivered after a resume
    expect(again).toBe(0);
  }, 20_000);

  it('a failed side task (a dead letter) keeps the event undone until it succeeds; a failed cursor save is not fatal', async () => {
    const { r } = runner();
    let letters = 0;
    await r.trackEvent('did:a', 7, async () => { r.alsoAwait(7, ++letters === 1 ? Promise.reject(new Error('Postgres away')) : Promise.resolve()); });
    expect(letters).toBe(2);
    const failing = new DurableRunner({ maxInFlight: 10, setCursor: async () => { throw new Error('Postgres away'); }, onFull: () => {}, onRoom: () => {}, onRetry: () => {} });
    const quiet = vi.spyOn(log, 'error').mockImplementation(() => {});
    await failing.trackEvent('did:a', 1, async () => {});
    expect(quiet).toHaveBeenCalledWith(expect.anything(), expect.stringMatching(/saving the cursor failed/));
    quiet.mockRestore();
    expect(failing.getCursor()).toBe(1);
  }, 20_000);

  it('holds at most maxInFlight: says full, then has room again once the backlog halves', async () => {
    const { r, log } = runner(10);
    let release!: () => void;
    const stuck = new Promise<void>((ok) => { release = ok; });
    const all = [r.trackEvent('did:slow', 1, () => stuck)];
    for (let seq = 2; seq <= 10; seq++) all.push(r.trackEvent(`did:${seq}`, seq, async () => {}));
    await tick();
    expect(log.full).toBe(1);
    expect(r.inFlight).toBe(10); // done events wait behind the stuck one (the cursor cannot pass it)
    expect(log.room).toBe(0);
    release();
    await Promise.all(all);
    expect(log.room).toBe(1);
    expect(r.inFlight).toBe(0);
    expect(r.getCursor()).toBe(10);
  });

  it('saves the cursor at most once per saveEveryMs, then once more with the latest (and on demand)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }); // the interval passes when the test says so
    try {
      const saved: number[] = [];
      const r = new DurableRunner({ maxInFlight: 100, saveEveryMs: 1000, setCursor: async (c) => { saved.push(c); }, onFull: () => {}, onRoom: () => {}, onRetry: () => {} });
      for (let seq = 1; seq <= 50; seq++) await r.trackEvent(`did:${seq % 3}`, seq, async () => {});
      expect(r.getCursor()).toBe(50);
      expect(saved).toEqual([1]); // the first at once; the rest wait for the interval
      await vi.advanceTimersByTimeAsync(1000);
      expect(saved).toEqual([1, 50]); // the trailing save has the latest
      await r.trackEvent('did:a', 51, async () => {});
      r.stop();
      await r.save(); // the consumer's stop writes down what is done
      expect(saved).toEqual([1, 50, 51]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('settleLater: the repo\'s next event starts at once, but neither event is done (nor the cursor past it) until the work settles', async () => {
    const { r, log } = runner();
    let settle!: () => void;
    const handedOff = new Promise<void>((ok) => { settle = ok; });
    const order: string[] = [];
    const a1 = r.trackEvent('did:a', 1, async () => { order.push('a1'); r.settleLater(1, handedOff); });
    const a2 = r.trackEvent('did:a', 2, async () => { order.push('a2'); });
    await a2;
    expect(order).toEqual(['a1', 'a2']); // a2 did not wait for a1's hand-off
    expect(r.getCursor()).toBeUndefined(); // but the cursor waits for it
    expect(r.inFlight).toBe(2);
    settle();
    await a1;
    await tick();
    expect(r.getCursor()).toBe(2);
    expect(log.cursors.at(-1)).toBe(2);
  });
});
