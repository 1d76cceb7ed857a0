import {
  allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { PROGRESS_QUERY, SIGNALS, type OperationInput, type SignalArgs } from '../temporal/contracts.ts';

/** Sent after the series' rule, times, fields or exceptions changed. */
export const seriesChangedSignal = defineSignal<SignalArgs['seriesChanged']>(SIGNALS.seriesChanged);

export interface SeriesInput extends OperationInput<'series'> {
  /** Carried across continue-as-new. */
  totals?: SeriesTotals;
}
export interface SeriesTotals { runs: number; created: number; updated: number; cancelled: number; deleted: number }
export interface SeriesProgress extends SeriesTotals {
  step: 'materializing' | 'waiting' | 'done';
  materializedUntil: string | null;
  state: 'active' | 'ended' | 'gone';
}
export const seriesProgressQuery = defineQuery<SeriesProgress>(PROGRESS_QUERY);

const { materializeSeries } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  summary: 'materialize occurrences up to the horizon',
});

/**
 * `series:<slug>`: keeps a series' occurrences materialized up to its horizon. It materializes at
 * start, on every change (signal), and daily as the horizon moves; it ends when the rule has no
 * occurrence beyond the horizon (a later change starts it again) or the series is gone. No cron
 * job and no in-process timer: the wait is a durable Temporal timer.
 */
export async function seriesWorkflow(input: SeriesInput): Promise<SeriesProgress> {
  const progress: SeriesProgress = {
    step: 'materializing', materializedUntil: null, state: 'active',
    ...(input.totals ?? { runs: 0, created: 0, updated: 0, cancelled: 0, deleted: 0 }),
  };
  setHandler(seriesProgressQuery, () => progress);
  let changed = true;
  setHandler(seriesChangedSignal, () => { changed = true; });

  for (;;) {
    changed = false;
    progress.step = 'materializing';
    const r = await materializeSeries({
      seriesSlug: input.seriesSlug, now: new Date(Date.now()).toISOString(),
      horizonDays: input.horizonDays, maxOccurrences: input.maxOccurrences,
    });
    progress.runs++;
    if (r.state === 'gone') { progress.state = 'gone'; break; }
    progress.created += r.created;
    progress.updated += r.updated;
    progress.cancelled += r.cancelled;
    progress.deleted += r.deleted;
    progress.materializedUntil = r.materializedUntil;
    progress.step = 'waiting';
    if (r.ended && !changed) { progress.state = 'ended'; break; }
    // Wake for a change, or when the horizon has moved a day.
    await condition(() => changed, (input.topUpEvery ?? '1 day') as '1 day');
    if (workflowInfo().continueAsNewSuggested || progress.runs % 500 === 0) {
      await condition(allHandlersFinished);
      const { step: _s, materializedUntil: _m, state: _st, ...totals } = progress;
      await continueAsNew<typeof seriesWorkflow>({ ...input, totals });
    }
  }
  progress.step = 'done';
  await condition(allHandlersFinished);
  return progress;
}
