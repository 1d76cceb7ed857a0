import { log } from '../logger.ts';
/**
 * The consumer's runner (in place of @atproto/sync's MemoryRunner, which marks an event done
 * whether or not its handling worked): events of one repo run in order, repos in parallel; an
 * event whose handling failed for a passing reason (`retryLater`) runs again with backoff, and
 * the cursor never moves past it; at most `maxInFlight` events are held, beyond which the
 * consumer stops reading (`onFull`) until the backlog halves (`onRoom`) and resumes from the cursor.
 */
export class DurableRunner {
  private cursor: number | undefined;
  private seen: number | undefined;
  /** Tracked sequence numbers in arrival order; done ones leave from the front, moving the cursor. */
  private readonly order: { seq: number; done: boolean }[] = [];
  private readonly tracked = new Set<number>();
  private readonly tails = new Map<string, Promise<void>>();
  private readonly retry = new Set<number>();
  private readonly alongside = new Map<number, Promise<unknown>[]>();
  private readonly settling = new Map<number, Promise<unknown>>();
  private full = false;
  private stopped = false;
  /** The cursor last handed to setCursor, the time of that save, and a trailing save waiting for its turn. */
  private saved: number | undefined;
  private savedAt = 0;
  private saving: Promise<void> = Promise.resolve();
  private trailing: NodeJS.Timeout | null = null;
  private readonly opts: {
    startCursor?: number; maxInFlight: number;
    /**
     * Saves at most once per `saveEveryMs` (then once more at the end of the interval): on the
     * whole network's relay a save per event would be thousands of writes a second. A restart
     * replays at most that much again, which is applied once.
     */
    saveEveryMs?: number;
    setCursor: (cursor: number) => Promise<void>; onFull: () => void; onRoom: () => void;
    onRetry: (seq: number, delayMs: number) => void;
  };

  constructor(opts: DurableRunner['opts']) {
    this.opts = opts;
    this.cursor = opts.startCursor;
  }

  getCursor(): number | undefined { return this.cursor; }
  /** The highest sequence number the stream has delivered (the cursor trails it by the backlog). */
  get latestSeen(): number | undefined { return this.seen; }
  get inFlight(): number { return this.tracked.size; }

  /** Marks this event's current attempt as failed for a passing reason: it runs again. */
  retryLater(seq: number): void { this.retry.add(seq); }

  /** Work the event's handling started on the side (a dead letter): the event is done only once it is. */
  alsoAwait(seq: number, work: Promise<unknown>): void {
    this.alongside.set(seq, [...this.alongside.get(seq) ?? [], work]);
  }

  /**
   * Work that finishes the event later (a hand-off queued in order, which retries on its own and
   * never fails): the repo's next event may start meanwhile, but the event is done, and the cursor
   * passes it, only once `work` is.
   */
  settleLater(seq: number, work: Promise<unknown>): void {
    this.settling.set(seq, work);
  }

  async trackEvent(did: string, seq: number, handler: () => Promise<void>): Promise<void> {
    // Redelivered after a resume: already done (at or before the cursor) or still being handled.
    if (this.seen === undefined || seq > this.seen) this.seen = seq;
    if (this.stopped || (this.cursor !== undefined && seq <= this.cursor) || this.tracked.has(seq)) return;
    const item = { seq, done: false };
    this.order.push(item);
    this.tracked.add(seq);
    if (!this.full && this.tracked.size >= this.opts.maxInFlight) { this.full = true; this.opts.onFull(); }
    // The repo's next event starts once this one is handled; this one is done once it settled too.
    const run = (this.tails.get(did) ?? Promise.resolve()).then(() => this.untilDone(seq, handler));
    this.tails.set(did, run);
    await run;
    if (this.tails.get(did) === run) this.tails.delete(did);
    await this.settling.get(seq);
    this.settling.delete(seq);
    item.done = true;
    await this.advance();
  }

  private async untilDone(seq: number, handler: () => Promise<void>): Promise<void> {
    for (let delay = 500; !this.stopped; delay = Math.min(delay * 2, 30_000)) {
      this.retry.delete(seq);
      await handler().catch(() => this.retry.add(seq));
      await Promise.all(this.alongside.get(seq) ?? []).catch(() => this.retry.add(seq));
      this.alongside.delete(seq);
      if (!this.retry.has(seq)) return;
      this.opts.onRetry(seq, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async advance(): Promise<void> {
    let latest: number | undefined;
    while (this.order.length && this.order[0].done) {
      latest = this.order.shift()!.seq;
      this.tracked.delete(latest);
    }
    if (this.full && this.tracked.size <= this.opts.maxInFlight / 2) { this.full = false; this.opts.onRoom(); }
    if (latest === undefined || this.stopped) return;
    this.cursor = latest;
    const wait = this.savedAt + (this.opts.saveEveryMs ?? 0) - Date.now();
    if (wait <= 0) await this.save();
    else this.trailing ??= setTimeout(() => { this.trailing = null; void this.save(); }, wait);
  }

  /** Saves the cursor if it moved since the last save, one save at a time. */
  save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      const cursor = this.cursor;
      if (cursor === undefined || cursor === this.saved) return;
      this.savedAt = Date.now();
      // A failed save is not fatal: a later one saves a later cursor (a restart meanwhile
      // replays a little more, applied once).
      await this.opts.setCursor(cursor).then(() => { this.saved = cursor; }, (err: Error) => log.error({ err }, 'firehose: saving the cursor failed'));
    });
    return this.saving;
  }

  /** Stops retrying; handling in flight ends on its own. The cursor stays where it was (`save` writes it down). */
  stop(): void {
    this.stopped = true;
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = null;
  }
}
