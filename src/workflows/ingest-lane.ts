import { defineQuery, setHandler } from '@temporalio/workflow';
import type { LaneResult } from '../activities/ingest/index.ts';
import { PROGRESS_QUERY, type OperationInput } from '../temporal/contracts.ts';
import { dbSteps } from './local-steps.ts';

export interface LaneProgress { step: 'applying' | 'done'; ops: number; result: LaneResult | null }

/**
 * `bsky-ingest-lane:<n>`: one batch of firehose changes, applied in order in one step (the
 * consumer starts the lane's next batch only when this one is done, so a lane applies its
 * authors' changes in order). A record whose change must wait is handed to its own
 * `bsky-ingest:<uri>` workflow by the step itself (src/activities/ingest/batch.ts).
 */
export async function ingestLaneWorkflow(input: OperationInput<'bsky-ingest-lane'>): Promise<LaneProgress> {
  const progress: LaneProgress = { step: 'applying', ops: input.ops.length, result: null };
  setHandler(defineQuery<LaneProgress>(PROGRESS_QUERY), () => progress);
  progress.result = await dbSteps().applyIngestBatch(input.ops);
  progress.step = 'done';
  return progress;
}
