import type { Event } from '@atproto/sync';
import { Firehose, FirehoseHandlerError, FirehoseParseError } from '@atproto/sync';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { deadLetter, type DeadLetter } from '../db/dead-letters.ts';
import { savedCursor, saveCursor } from '../db/firehose-cursors.ts';
import type { Config } from '../config.ts';
import { MalformedRecord, opFromRecord, type IngestOp } from '../domain/ingest.ts';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../domain/lexicon.ts';
import { handOffLaneBatch } from '../temporal/signals.ts';
import { IngestLanes } from './lanes.ts';
import { consumerMetrics } from './metrics.ts';
import { DurableRunner } from './runner.ts';
import { verificationKeys } from './verification-keys.ts';
import { verifyChange } from './verify-commit.ts';
import type { Registry } from 'prom-client';
import { log } from '../logger.ts';

export interface ConsumerStats {
  handedOff: number; deadLettered: number;
  /** The cursor as last saved; `done()`: the last event handled, saved or not yet. */
  cursor: number | undefined; done: () => number | undefined;
  /** Attempts that failed for a passing reason (PLC, Postgres or Temporal away) and were retried. */
  retried: number;
  /** Times reading stopped because FIREHOSE_MAX_IN_FLIGHT events were held. */
  paused: number;
  inFlight: () => number;
}

/** Record values as JSON for the dead-letter table (CIDs and bytes as strings). */
const jsonSafe = (value: unknown) => JSON.parse(JSON.stringify(value ?? null, (_k, v) =>
  (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v?.asCID ? String(v) : v)));

const CALENDAR = new Set([EVENT_COLLECTION, RSVP_COLLECTION]);
const COMMIT = 'com.atproto.sync.subscribeRepos#commit';

/**
 * A commit without a calendar change, in the shape the runner reads (`repo` and `seq`, the
 * cursor's number): nothing else of it is read, so it needs no validation. Most of the network.
 */
function isForeignCommit(value: unknown): boolean {
  const evt = value as { $type?: unknown; seq?: unknown; repo?: unknown; ops?: unknown } | undefined;
  return evt?.$type === COMMIT && Number.isSafeInteger(evt.seq) && typeof evt.repo === 'string' && Array.isArray(evt.ops)
    && evt.ops.every((op: { path?: unknown } | null) => typeof op?.path === 'string' && !CALENDAR.has(op.path.split('/')[0]));
}

/**
 * Commits without a calendar change are most of the network, so they cost as little as can be
 * (bench/firehose-filter.ts, --cpu-prof):
 * - not validated (`isForeignCommit`): the library's validation of a message was a tenth of the time;
 * - not parsed: with `unauthenticatedCommits`, @atproto/sync reads the blocks of every commit
 *   (its authenticated parse returns before that), which cost a third of the rate.
 * Other messages are validated as before, without stacks for the failures: the validator builds
 * (and drops) an Error for every absent optional field (a commit's `prev`), and capturing its
 * stack was an eighth of the time. `sub` and `parseEvt` are the library's subscription and
 * per-event parse (private in its typings): a version without them fails here, at subscription,
 * not silently.
 */
export function calendarOnly(f: Firehose): Firehose {
  const parser = f as unknown as { parseEvt: (evt: unknown) => Promise<Event[]>; sub: { opts: { validate: (value: unknown) => unknown } } };
  const parse = parser.parseEvt.bind(f);
  parser.parseEvt = (evt) => (isForeignCommit(evt) ? Promise.resolve([]) : parse(evt));
  const sub = parser.sub.opts;
  const validate = sub.validate;
  sub.validate = (value) => {
    if (isForeignCommit(value)) return value;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // synchronous: nothing else runs meanwhile
    try { return validate(value); } finally { Error.stackTraceLimit = limit; }
  };
  return f;
}

/**
 * Subscribes to a firehose (`com.atproto.sync.subscribeRepos` of a relay or PDS; commits are
 * verified against the authors' keys) and hands every calendar event and RSVP change, in batches,
 * to the lanes that apply them (`lanes.ts`, `bsky-ingest-lane:<n>`; an author's changes in order).
 * Nothing is skipped that failed for a passing reason: a commit whose author's key cannot be
 * fetched (PLC away), a batch or dead letter that could not be written (Temporal or Postgres
 * away) is retried with backoff, and the cursor, saved in Postgres, stays behind it
 * (`runner.ts`), so a restart resumes without losing a record; records delivered twice are
 * applied once (the same CID changes nothing). A commit that fails verification, or a record that
 * is not a valid event or RSVP, goes to the dead-letter table and the stream goes on. At most
 * FIREHOSE_MAX_IN_FLIGHT events are held: beyond that, reading stops until the backlog halves.
 */
export async function startFirehoseConsumer(deps: { ds: DataSource; temporal: Client; config: Config; registry?: Registry }, service = deps.config.FIREHOSE_SERVICE) {
  const { ds, temporal, config } = deps;
  const startCursor = await savedCursor(ds, service);
  let firehose: Firehose | null = null;
  let switching: Promise<void> = Promise.resolve();
  const runner = new DurableRunner({
    startCursor,
    maxInFlight: config.FIREHOSE_MAX_IN_FLIGHT,
    saveEveryMs: config.FIREHOSE_CURSOR_SAVE_MS,
    setCursor: async (cursor) => {
      await saveCursor(ds, service, cursor);
      stats.cursor = cursor;
      cursorMovedAt = Date.now();
    },
    onFull: () => { stats.paused++; metrics.paused(); switching = switching.then(() => firehose?.destroy()).then(() => { firehose = null; }); },
    onRoom: () => { switching = switching.then(() => { if (!stopped && !firehose) firehose = subscribe(); }); },
    onRetry: (seq, delay) => { stats.retried++; metrics.retried(); log.warn({ seq, delayMs: delay }, 'firehose: event failed for a passing reason; retrying'); },
  });
  const stats: ConsumerStats = {
    handedOff: 0, deadLettered: 0, retried: 0, paused: 0, cursor: runner.getCursor(), done: () => runner.getCursor(), inFlight: () => runner.inFlight,
  };
  let cursorMovedAt = Date.now();
  const metrics = consumerMetrics(deps.registry, {
    cursor: () => runner.getCursor(), latestSeen: () => runner.latestSeen, inFlight: () => runner.inFlight, cursorMovedAt: () => cursorMovedAt,
  });
  let stopped = false;

  const keys = verificationKeys(config);
  // A start gets 10 s (after a restart, with the wait for a batch started before); the lane's own wait for its previous batch has no limit.
  const lanes = new IngestLanes((lane, ops) =>
    temporal.connection.withDeadline(Date.now() + 10_000, () => handOffLaneBatch(temporal, config, lane, ops)), config.FIREHOSE_LANES,
  (lane, delay, err) => { stats.retried++; metrics.retried(); log.warn({ lane, delayMs: delay, reason: err.message }, 'firehose: a batch could not be handed off; retrying'); });

  const keyOf = (did: string, fresh: boolean) => keys.did.resolveAtprotoKey(did, fresh);
  /** Keeps what cannot be ingested, and counts it; the stream goes on. */
  const letter = (d: Omit<DeadLetter, 'source'>) => deadLetter(ds, { source: 'firehose', ...d }).then(() => { stats.deadLettered++; metrics.deadLettered(); });

  async function handleEvent(evt: Event) {
    if (evt.event !== 'create' && evt.event !== 'update' && evt.event !== 'delete') return;
    try {
      await verifyChange(evt, keyOf);
    } catch (err) {
      if ((err as { passing?: boolean }).passing) throw err; // the author's key could not be fetched: retried
      await letter({ uri: evt.uri.toString(), collection: evt.collection, reason: `unverifiable commit: ${(err as Error).message}`, payload: null });
      return;
    }
    const change = {
      uri: evt.uri.toString(), collection: evt.collection, did: evt.did,
      cid: evt.event === 'delete' ? undefined : evt.cid.toString(), record: evt.event === 'delete' ? undefined : evt.record,
    };
    let op: IngestOp;
    try {
      op = opFromRecord(change);
    } catch (err) {
      if (!(err instanceof MalformedRecord)) throw err;
      await letter({ uri: change.uri, cid: change.cid, collection: change.collection, reason: err.message, payload: jsonSafe(change.record) });
      return;
    }
    // Queued in its author's lane, in order; the event is done once its batch has started.
    runner.settleLater(evt.seq, lanes.add(change.did, { uri: change.uri, op }).then(() => { stats.handedOff++; metrics.handedOff(); }));
  }

  function onError(err: Error) {
    if (err instanceof FirehoseHandlerError) {
      runner.retryLater(err.event.seq); // Postgres or Temporal away: the record is handled again
    } else if (err instanceof FirehoseParseError) {
      // Parsing reads no keys (commits are verified in handleEvent): a failure here is the commit's own.
      const seq = 'seq' in err.event && typeof err.event.seq === 'number' ? err.event.seq : null;
      const kept = letter({ uri: null, reason: `unverifiable or unparseable commit: ${(err.cause as Error)?.message ?? err.message}`, payload: null });
      if (seq !== null) runner.alsoAwait(seq, kept); else kept.catch(() => undefined);
    }
    log.error({ reason: err.message, cause: (err.cause as Error | undefined)?.message }, 'firehose error');
  }

  function subscribe(): Firehose {
    const f = calendarOnly(new Firehose({
      // Commits are verified in handleEvent (verify-commit.ts: the same checks, the signature natively).
      idResolver: keys, unauthenticatedCommits: true, service, runner, handleEvent, onError,
      filterCollections: [...CALENDAR],
      excludeIdentity: true, excludeAccount: true, excludeSync: true,
    }));
    void f.start();
    return f;
  }
  firehose = subscribe();
  return {
    stats,
    /** Stops reading and retrying; the cursor stays behind anything not handled. */
    stop: async () => {
      stopped = true;
      runner.stop();
      lanes.stop();
      await switching;
      await firehose?.destroy();
      await runner.save();
    },
  };
}
