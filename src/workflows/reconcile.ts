import { defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { ReconcileReport } from '../activities/reconcile.ts';
import { PROGRESS_QUERY, type OperationInput } from '../temporal/contracts.ts';

const { reconcile } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
  summary: 'find divergence between rows and workflows, and repair it',
});

export interface ReconcileProgress { step: 'reconciling' | 'done'; report: ReconcileReport | null }

/**
 * `reconcile:<run>`, run by the `reconcile` Schedule (RECONCILE_CRON) or an admin: one pass of
 * the checks in `activities/reconcile.ts`; the result says what was repaired. A run that fails
 * for good is simply the next run's work (at most five attempts, then the schedule tries again).
 */
export async function reconcileWorkflow(input: OperationInput<'reconcile'> = {}): Promise<ReconcileReport> {
  const progress: ReconcileProgress = { step: 'reconciling', report: null };
  setHandler(defineQuery<ReconcileProgress>(PROGRESS_QUERY), () => progress);
  progress.report = await reconcile({ limit: input.limit ?? 500, staleMinutes: input.staleMinutes ?? 30 });
  progress.step = 'done';
  return progress.report;
}
