import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../config.ts';
import { ENTITY, OPERATION } from './search-attributes.ts';
import { OPERATION_TYPES, type OperationInput, type OperationType } from './contracts.ts';

export const CHAT_RETENTION_SCHEDULE = 'chat-retention';
export const RECONCILE_SCHEDULE = 'reconcile';

/**
 * The housekeeping schedules, created or brought up to date at worker start: `chat-retention`
 * (daily, paused when chat is disabled) and `reconcile` (RECONCILE_CRON). Overlap policy skip: a
 * run still working when the next is due means the next is dropped; a short catch-up window means
 * a worker that was down for days does not replay every missed run.
 */
export async function ensureSchedules(client: Client, config: Config): Promise<void> {
  await ensureSchedule(client, config, CHAT_RETENTION_SCHEDULE, 'chat-retention', config.CHAT_RETENTION_CRON,
    { retentionDays: config.CHAT_RETENTION_DAYS },
    config.CHAT_ENABLED ? null : 'chat is disabled (CHAT_ENABLED)');
  await ensureSchedule(client, config, RECONCILE_SCHEDULE, 'reconcile', config.RECONCILE_CRON,
    {}, null);
}

async function ensureSchedule<T extends OperationType>(
  client: Client, config: Config, scheduleId: string, type: T, cron: string, input: OperationInput<T>, pausedBecause: string | null,
): Promise<void> {
  const options = {
    scheduleId,
    spec: { cronExpressions: [cron] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: OPERATION_TYPES[type].workflowType,
      workflowId: `${type}:scheduled`,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [input],
      typedSearchAttributes: [{ key: OPERATION, value: type }, { key: ENTITY, value: `system:${type}` }],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    state: { paused: pausedBecause !== null, note: pausedBecause ?? undefined },
  } satisfies ScheduleOptions;
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({
      ...prev, spec: options.spec, action: options.action, policies: options.policies, state: options.state,
    }));
  }
}
