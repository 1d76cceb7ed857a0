import { containerDeletionActivities } from './container.ts';
import { eventDeletionActivities, type DeletionDeps } from './event.ts';

export type { TombstonedEvent } from './event.ts';
export type { DeletionScope } from './container.ts';

export function deletionActivities(deps: DeletionDeps) {
  return { ...eventDeletionActivities(deps), ...containerDeletionActivities(deps) };
}
