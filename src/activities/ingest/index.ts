import { applyActivities, type IngestDeps } from './apply.ts';
import { batchActivities } from './batch.ts';
import { syncActivities } from './sync.ts';

export type { IngestResult } from './apply.ts';
export type { SyncPage } from './sync.ts';
export type { LaneResult } from './batch.ts';

export function ingestActivities(deps: IngestDeps) {
  const apply = applyActivities(deps);
  return { ...apply, ...syncActivities(deps, apply), ...batchActivities(deps, apply) };
}
