import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { chatRetentionWorkflow } from '../workflows/chat-retention.ts';
import { ENTITY, OPERATION } from './search-attributes.ts';
import { OPERATION_TYPES } from './operations.ts';

export const CHAT_RETENTION_SCHEDULE = 'chat-retention';

/**
 * The daily `chat-retention` schedule, created or brought up to date at worker start. Overlap
 * policy skip: a run still working when the next is due means the next is dropped; a short
 * catch-up window means a worker that was down for days does not replay every missed day.
 */
export async function ensureChatRetentionSchedule(client: Client, config: Config): Promise<void> {
  const options = {
    scheduleId: CHAT_RETENTION_SCHEDULE,
    spec: { cronExpressions: [config.CHAT_RETENTION_CRON] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: OPERATION_TYPES['chat-retention'].workflowType,
      workflowId: 'chat-retention:scheduled',
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{ retentionDays: config.CHAT_RETENTION_DAYS }] as Parameters<typeof chatRetentionWorkflow>,
      typedSearchAttributes: [{ key: OPERATION, value: 'chat-retention' }, { key: ENTITY, value: 'system:chat-retention' }],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    state: { paused: !config.CHAT_ENABLED, note: config.CHAT_ENABLED ? undefined : 'chat is disabled (CHAT_ENABLED)' },
  } satisfies ScheduleOptions;
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(CHAT_RETENTION_SCHEDULE).update((prev) => ({
      ...prev, spec: options.spec, action: options.action, policies: options.policies, state: options.state,
    }));
  }
}
