import { containerDeletionActivities } from './container.ts';
import { eventRemovalActivities, eventTombstoneActivities, type DeletionDeps } from './event.ts';

export type { TombstonedEvent } from './event.ts';
export type { DeletionScope } from './container.ts';

export function deletionActivities(deps: DeletionDeps) {
  return { ...eventTombstoneActivities(deps), ...eventRemovalActivities(deps), ...containerDeletionActivities(deps) };
}
