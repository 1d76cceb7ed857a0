import { activityInfo, log } from '@temporalio/activity';
import { repoOf, type ExternalRsvp, type IngestOp, type LaneOp } from '../../domain/ingest.ts';
import { RSVP_COLLECTION } from '../../domain/lexicon.ts';
import { deadLetterOnce } from '../../db/dead-letters.ts';
import { forwardedAmong, forwardedLately, markForwarded, pruneForwarded } from '../../db/ingest-forwarded.ts';
import { requestIngest } from '../../temporal/signals.ts';
import type { applyActivities, IngestDeps, IngestResult } from './apply.ts';
import { lookUpNewAuthors } from './authors.ts';

export interface LaneResult { applied: number; unchanged: number; skipped: number; forwarded: number }

/** After this many attempts a failing change leaves the batch for its own workflow, so one bad record cannot hold a lane. */
const ATTEMPTS_IN_BATCH = 3;

/**
 * Applying a lane's batch of firehose changes (`bsky-ingest-lane:<n>`): each change, in order,
 * straight to the rows with the same activities `bsky-ingest:<uri>` runs (idempotent: the same CID
 * again changes nothing, so a retried batch applies nothing twice). A change that must wait (an
 * RSVP before its event: parked; an event's deletion: a child workflow) goes to its record's own
 * workflow instead; the record is marked (`ingest_forwarded`) first, and every later change of it
 * follows it there, so its changes still apply one at a time and in order.
 */
export function batchActivities(deps: IngestDeps, apply: ReturnType<typeof applyActivities>) {
  const { ds, temporal, config } = deps;

  /** Applied here, or null: it goes to the record's own workflow. */
  async function direct(op: IngestOp): Promise<IngestResult | null> {
    switch (op.kind) {
      case 'event': return apply.ingestEvent(op.event);
      case 'rsvp': {
        const r = await apply.ingestRsvp(op.rsvp);
        return r.state === 'parked' ? waitOrLetGo(op.rsvp, r.reason) : r;
      }
      case 'rsvp-delete': return apply.ingestRsvpDelete(op.sourceId);
      case 'event-delete': return null;
    }
  }

  /**
   * A parked RSVP waits for its event in a workflow of its own, up to an hour (null), unless its
   * author has INGEST_MAX_WAITING_PER_AUTHOR records waiting already: anyone can write RSVPs to
   * events that never come, each of which held a workflow and its hour of retries. Then it is
   * dead-lettered (`npm run ops -- dead-letters retry ID` hands it on once its event is here).
   */
  async function waitOrLetGo(r: ExternalRsvp, reason: string): Promise<IngestResult | null> {
    const max = config.INGEST_MAX_WAITING_PER_AUTHOR;
    if (await forwardedLately(ds, r.userDid, max) < max) return null;
    const why = `${reason}, and ${max} records of ${r.userDid} wait for theirs already`;
    await deadLetterOnce(ds, { source: 'ingest', uri: r.sourceId, cid: r.sourceCid, collection: RSVP_COLLECTION, reason: why, payload: r });
    return { state: 'skipped', reason: why };
  }

  /** The distinct records' event changes from `ops[from]` on, none of them forwarded: they can go in one statement. */
  function eventRun(ops: LaneOp[], from: number, forwarded: Set<string>): LaneOp[] {
    const uris = new Set<string>();
    let to = from;
    while (to < ops.length && ops[to].op.kind === 'event' && !forwarded.has(ops[to].uri) && !uris.has(ops[to].uri)) uris.add(ops[to++].uri);
    return ops.slice(from, to);
  }

  return {
    async applyIngestBatch(ops: LaneOp[]): Promise<LaneResult> {
      const result: LaneResult = { applied: 0, unchanged: 0, skipped: 0, forwarded: 0 };
      const count = (done: IngestResult) => {
        if (done.state === 'unchanged') result.unchanged++;
        else if (done.state === 'skipped') result.skipped++;
        else result.applied++;
      };
      const forwarded = await forwardedAmong(ds, [...new Set(ops.map((o) => o.uri))]);
      await lookUpNewAuthors(deps, ops.flatMap(({ op }) => op.kind === 'event' ? [op.event.creator.did] : op.kind === 'rsvp' ? [op.rsvp.userDid] : []));
      for (let at = 0; at < ops.length;) {
        const run = eventRun(ops, at, forwarded);
        // A run that fails as a whole goes one change at a time, each with its own attempts.
        const together = run.length > 1 ? await apply.ingestEvents(run.map((o) => (o.op as Extract<IngestOp, { kind: 'event' }>).event)).catch(() => null) : null;
        if (together) {
          together.forEach(count);
          at += run.length;
          continue;
        }
        const group = run.length ? run : [ops[at]];
        for (const { uri, op } of group) {
          if (!forwarded.has(uri)) {
            const done = await direct(op).catch((err: Error) => {
              if (activityInfo().attempt < ATTEMPTS_IN_BATCH) throw err; // the batch is retried (nothing applies twice)
              log.warn('ingest: a change keeps failing in its batch; it goes to its own workflow', { uri, error: err.message });
              return null;
            });
            if (done) {
              count(done);
              continue;
            }
          }
          forwarded.add(uri);
          await markForwarded(ds, uri, repoOf(uri));
          await requestIngest(temporal, config, uri, op);
          result.forwarded++;
        }
        at += group.length;
      }
      if (result.forwarded) await pruneForwarded(ds);
      return result;
    },
  };
}
