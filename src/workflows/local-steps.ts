import { patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';

/**
 * Short database steps run as local activities: in the worker that runs the workflow, recorded
 * as a marker, with no activity task to schedule, poll and report (bench/: each such step cost a
 * round trip through the server). Retried like any activity; steps that call outside services or
 * heartbeat stay ordinary activities. Runs recorded before this patch scheduled them as ordinary
 * activities and replay that way (test/replay/histories).
 */
const LOCAL_DB_STEPS = 'local-db-steps';

const options = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
} as const;
const asLocal = proxyLocalActivities<Activities>(options);
const asTask = proxyActivities<Activities>(options);

/** Whether this run takes its short database steps locally (false: a run recorded before). */
export const localSteps = (): boolean => patched(LOCAL_DB_STEPS);

/**
 * The proxy for short database steps: local activities, except when replaying a run from before.
 * `local`: what the caller knows already (a marker of its own that implies this one).
 */
export function dbSteps(local: boolean = localSteps()): Activities {
  return (local ? asLocal : asTask) as Activities;
}
