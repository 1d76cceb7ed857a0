import {
  allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, executeChild, setHandler, sleep, workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { IngestResult } from '../activities/ingest/index.ts';
import type { IngestOp } from '../domain/ingest.ts';
import { PROGRESS_QUERY, SIGNALS, operationTags, type OperationInput, type SignalArgs } from '../temporal/contracts.ts';
import { deleteEventWorkflow } from './deletion.ts';
import { dbSteps } from './local-steps.ts';

export const ingestSignal = defineSignal<SignalArgs['ingest']>(SIGNALS.ingest);


export interface IngestInput extends OperationInput<'bsky-ingest'> {
  /** Changes not yet applied (a new run after continue-as-new starts with them). */
  queue?: IngestOp[];
}
export interface IngestProgress { step: 'waiting' | 'applying' | 'parked' | 'done'; applied: number; last: IngestResult | { state: 'deleted'; slug: string | null } | null }

const PARK_RETRY_MS = [2_000, 5_000, 15_000, 60_000];

/**
 * `bsky-ingest:<AT-URI>`: the only writer for one record from the network, so its creates,
 * updates and deletes apply once each and in order, whether they came from the firehose, the
 * integration API or a sync. An RSVP whose event has not arrived is parked: retried on a durable
 * timer, then dead-lettered after `parkForMs`.
 */
export async function ingestWorkflow(input: IngestInput): Promise<IngestProgress> {
  const queue: IngestOp[] = [...(input.queue ?? [])];
  const progress: IngestProgress = { step: 'waiting', applied: 0, last: null };
  setHandler(ingestSignal, (op) => { queue.push(op); });
  setHandler(defineQuery<IngestProgress>(PROGRESS_QUERY), () => progress);
  const parkForMs = input.parkForMs ?? 3_600_000;

  for (;;) {
    if (!(await condition(() => queue.length > 0, (input.idleTimeout ?? '10 minutes') as '10 minutes'))) break;
    const op = queue.shift()!;
    progress.step = 'applying';
    progress.last = await apply(op, parkForMs, progress);
    progress.applied++;
    progress.step = 'waiting';
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof ingestWorkflow>({ ...input, queue });
    }
  }
  await condition(allHandlersFinished);
  progress.step = 'done';
  return progress;
}

async function apply(op: IngestOp, parkForMs: number, progress: IngestProgress): Promise<IngestProgress['last']> {
  const act = dbSteps();
  switch (op.kind) {
    case 'event':
      return act.ingestEvent(op.event);
    case 'event-delete': {
      const slug = await act.findIngestedEvent(op.sourceId);
      if (slug) {
        await executeChild(deleteEventWorkflow, { ...operationTags('delete-event', slug), args: [{ eventSlug: slug }] })
          .catch((err) => { if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; });
      }
      return { state: 'deleted', slug };
    }
    case 'rsvp': {
      const started = Date.now();
      for (let attempt = 0; ; attempt++) {
        const result = await act.ingestRsvp(op.rsvp);
        if (result.state !== 'parked') return result;
        if (Date.now() - started >= parkForMs) {
          await act.deadLetter({ source: 'ingest', uri: op.rsvp.sourceId, cid: op.rsvp.sourceCid, collection: 'community.lexicon.calendar.rsvp', reason: result.reason, payload: op.rsvp });
          return result;
        }
        progress.step = 'parked';
        await sleep(PARK_RETRY_MS[Math.min(attempt, PARK_RETRY_MS.length - 1)]);
      }
    }
    case 'rsvp-delete':
      return act.ingestRsvpDelete(op.sourceId);
  }
}

