import { continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { SyncPage } from '../activities/ingest/index.ts';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../domain/lexicon.ts';
import { PROGRESS_QUERY, SIGNALS, type OperationInput } from '../temporal/contracts.ts';

const act = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 10 },
});

export interface SyncProgress {
  step: 'events' | 'rsvps' | 'publishing' | 'done';
  pages: number;
  /** What happened to the records found on the PDS: created, updated, unchanged, republished, skipped, parked, dead-lettered; `truncated`: collections listed only in part (MAX_PAGES). */
  fromPds: Record<string, number>;
  /** What meetflow started publishing because the PDS lacked it. */
  toPds: Record<string, number>;
}

const syncRequested = defineSignal(SIGNALS.syncRequested);

/**
 * `bsky-sync:<did>`: reconciles a user's calendar records on their PDS with meetflow, both ways.
 * Events first (RSVPs point at them), page by page; then what meetflow has and the PDS lacks is
 * published. For records from elsewhere the PDS wins, for meetflow's own records meetflow wins;
 * ingested events are never published, so nothing ping-pongs. A request that arrives during a
 * pass (a setting turned on, a claim) gets one more pass after it: the running one may have read
 * the state from before. Requests during a pass coalesce into that one.
 */
export async function blueskySyncWorkflow(input: OperationInput<'bsky-sync'>): Promise<SyncProgress> {
  const progress: SyncProgress = { step: 'events', pages: 0, fromPds: {}, toPds: {} };
  setHandler(defineQuery<SyncProgress>(PROGRESS_QUERY), () => progress);
  let requested = 0;
  setHandler(syncRequested, () => { requested++; });
  for (;;) {
    requested = 0; // the start's own request is this pass
    await syncPass(input.did, progress);
    if (requested === 0) break;
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof blueskySyncWorkflow>(input);
  }
  progress.step = 'done';
  return progress;
}

/**
 * A pass reads at most this many pages of a collection (100 records each: the events quota's
 * 5000), and stops listing once the URIs it holds pass LISTED_MAX_CHARS (they are `publishMissing`'s
 * input, and a workflow's payloads must stay well under Temporal's 2 MB). The PDS is the user's
 * own server: one that hands out a next cursor without end kept the pass listing, and starting a
 * workflow for each RSVP it invented, for ever. What lies beyond is counted as `truncated`; what
 * meetflow has there is published again (the same record: nothing doubles).
 */
const MAX_PAGES = 50;
const LISTED_MAX_CHARS = 1_000_000;

async function syncPass(did: string, progress: SyncProgress): Promise<void> {
  const listed: string[] = [];
  let listedChars = 0;
  for (const [step, collection] of [['events', EVENT_COLLECTION], ['rsvps', RSVP_COLLECTION]] as const) {
    progress.step = step;
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: SyncPage = await act.syncRecordsPage({ did, collection, cursor });
      listed.push(...page.uris);
      for (const uri of page.uris) listedChars += uri.length;
      for (const [k, n] of Object.entries(page.applied)) progress.fromPds[k] = (progress.fromPds[k] ?? 0) + n;
      progress.pages++;
      cursor = page.cursor;
    } while (cursor && ++pages < MAX_PAGES && listedChars < LISTED_MAX_CHARS);
    if (cursor) progress.fromPds.truncated = (progress.fromPds.truncated ?? 0) + 1;
  }
  progress.step = 'publishing';
  for (const [k, n] of Object.entries(await act.publishMissing({ did, listed }))) progress.toPds[k] = (progress.toPds[k] ?? 0) + n;
}
