import type { Client } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { waitlistWorkflow } from '../workflows/waitlist.ts';
import type { chatRoomWorkflow } from '../workflows/chat-room.ts';
import type { seriesWorkflow } from '../workflows/series.ts';
import type { blueskyPublishWorkflow } from '../workflows/bluesky-publish.ts';
import { OPERATION_TYPES, SIGNALS } from './operations.ts';
import { operationOptions } from './client.ts';

/** Seats may have been freed: start `waitlist:<slug>` or wake the running one. */
export async function notifySeatsChanged(client: Client, config: Config, eventSlug: string): Promise<string> {
  const handle = await client.workflow.signalWithStart<typeof waitlistWorkflow, []>(
    OPERATION_TYPES.waitlist.workflowType, {
      ...operationOptions(config, 'waitlist', eventSlug),
      args: [{ eventSlug }],
      signal: SIGNALS.seatsChanged,
      signalArgs: [],
    });
  return handle.workflowId;
}

/** Room membership or details may have changed: start `chat-room:<slug>` or wake the running one. */
export async function requestChatSync(client: Client, config: Config, target: { kind: 'event' | 'group'; slug: string }): Promise<string> {
  const handle = await client.workflow.signalWithStart<typeof chatRoomWorkflow, []>(
    OPERATION_TYPES['chat-room'].workflowType, {
      ...operationOptions(config, 'chat-room', target.slug, target.kind),
      args: [target],
      signal: SIGNALS.chatSync,
      signalArgs: [],
    });
  return handle.workflowId;
}

/** The series changed (or was created): start `series:<slug>` or wake the running one. */
export async function requestMaterialization(client: Client, config: Config, seriesSlug: string): Promise<string> {
  const handle = await client.workflow.signalWithStart<typeof seriesWorkflow, []>(
    OPERATION_TYPES.series.workflowType, {
      ...operationOptions(config, 'series', seriesSlug),
      args: [{ seriesSlug, horizonDays: config.SERIES_HORIZON_DAYS, maxOccurrences: config.SERIES_MAX_OCCURRENCES }],
      signal: SIGNALS.seriesChanged,
      signalArgs: [],
    });
  return handle.workflowId;
}

/** The event changed or should be published now: start `bsky-publish:<slug>` or wake the running one. */
export async function requestPublish(client: Client, config: Config, eventSlug: string): Promise<string> {
  const handle = await client.workflow.signalWithStart<typeof blueskyPublishWorkflow, []>(
    OPERATION_TYPES['bsky-publish'].workflowType, {
      ...operationOptions(config, 'bsky-publish', eventSlug),
      args: [{ eventSlug }],
      signal: SIGNALS.publish,
      signalArgs: [],
    });
  return handle.workflowId;
}
