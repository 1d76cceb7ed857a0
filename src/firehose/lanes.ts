import { createHash } from 'node:crypto';
import type { LaneOp } from '../domain/ingest.ts';

/** At most this many changes, and about this many bytes of them, in one batch (a workflow input). */
const MAX_OPS = 250;
const MAX_BYTES = 512 * 1024;

interface Waiting { op: LaneOp; bytes: number; done: () => void }

/** What a lane needs of Temporal: start its next batch (waiting for an open one), and wait for a batch to end. */
export type HandOff = (lane: number, ops: LaneOp[]) => Promise<{ result: () => Promise<unknown> }>;

/**
 * The consumer's hand-offs, batched: an author's changes all go to one lane (a hash of the DID),
 * in the order the consumer hands them over; a lane hands off what waits as one batch
 * (`bsky-ingest-lane:<n>`) as soon as its previous batch is applied, so batches grow with the
 * backlog and a lane applies its authors' changes in order. A change's promise resolves when its
 * batch is durable (started). A failed start is retried with backoff, the same batch first, so
 * the order holds; the promises of what is still waiting when the lanes stop never settle (the
 * consumer's cursor stays behind them).
 */
export class IngestLanes {
  private readonly lanes: Lane[];

  constructor(handOff: HandOff, count: number, onRetry: (lane: number, delayMs: number, err: Error) => void) {
    this.lanes = Array.from({ length: count }, (_, n) => new Lane(n, handOff, onRetry));
  }

  /** Stops handing off (and retrying); what waits stays unsettled. */
  stop(): void {
    for (const lane of this.lanes) lane.stopped = true;
  }

  add(did: string, op: LaneOp): Promise<void> {
    const lane = createHash('sha256').update(did).digest().readUInt32BE(0) % this.lanes.length;
    return this.lanes[lane].add(op);
  }
}

class Lane {
  private waiting: Waiting[] = [];
  private previous: { result: () => Promise<unknown> } | null = null;
  private draining = false;
  stopped = false;
  private readonly n: number;
  private readonly handOff: HandOff;
  private readonly onRetry: (lane: number, delayMs: number, err: Error) => void;

  constructor(n: number, handOff: HandOff, onRetry: Lane['onRetry']) {
    this.n = n;
    this.handOff = handOff;
    this.onRetry = onRetry;
  }

  add(op: LaneOp): Promise<void> {
    return new Promise((done) => {
      this.waiting.push({ op, bytes: JSON.stringify(op).length, done });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.waiting.length && !this.stopped) {
        // The previous batch applied first (meanwhile more changes join this one).
        await (this.previous?.result() ?? new Promise((r) => setImmediate(r))).catch(() => undefined);
        const batch = this.take();
        this.previous = await this.untilStarted(batch.map((w) => w.op));
        if (!this.previous) return; // stopped
        for (const w of batch) w.done();
      }
    } finally {
      this.draining = false;
    }
  }

  /** The batch's start, retried with backoff until it works or the lanes stop (null). */
  private async untilStarted(ops: LaneOp[]): Promise<{ result: () => Promise<unknown> } | null> {
    for (let delay = 500; !this.stopped; delay = Math.min(delay * 2, 30_000)) {
      try {
        return await this.handOff(this.n, ops);
      } catch (err) {
        this.onRetry(this.n, delay, err as Error);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    return null;
  }

  private take(): Waiting[] {
    let bytes = 0;
    let n = 0;
    while (n < this.waiting.length && n < MAX_OPS && (n === 0 || bytes + this.waiting[n].bytes <= MAX_BYTES)) bytes += this.waiting[n++].bytes;
    return this.waiting.splice(0, n);
  }
}
