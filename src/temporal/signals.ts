import type { Client } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { waitlistWorkflow } from '../workflows/waitlist.ts';
import type { chatRoomWorkflow } from '../workflows/chat-room.ts';
import type { seriesWorkflow } from '../workflows/series.ts';
import type { ingestWorkflow } from '../workflows/ingest.ts';
import type { blueskySyncWorkflow } from '../workflows/bluesky-sync.ts';
import type { blueskyUnpublishWorkflow } from '../workflows/bluesky-unpublish.ts';
import type { IngestOp } from '../domain/ingest.ts';
import type { blueskyPublishWorkflow, blueskyRsvpWorkflow, blueskySeriesPublishWorkflow } from '../workflows/bluesky-publish.ts';
import { OPERATION_TYPES, SIGNALS, type OperationType } from './operations.ts';
import { operationOptions, startOperation } from './client.ts';

/**
 * Starts `<type>:<slug>` with `args`, or wakes the running one, with `signal`; answers its id.
 * Each caller checks its `args` against its workflow's parameters (`satisfies`).
 */
async function wake(
  client: Client, config: Config, type: OperationType, slug: string, signal: string, args: unknown[],
  opts: { kind?: string; signalArgs?: unknown[] } = {},
): Promise<string> {
  const handle = await client.workflow.signalWithStart(OPERATION_TYPES[type].workflowType, {
    ...operationOptions(config, type, slug, opts.kind), args, signal, signalArgs: opts.signalArgs ?? [],
  });
  return handle.workflowId;
}

/** Seats may have been freed: `waitlist:<slug>`. */
export function notifySeatsChanged(client: Client, config: Config, eventSlug: string): Promise<string> {
  return wake(client, config, 'waitlist', eventSlug, SIGNALS.seatsChanged, [{ eventSlug }] satisfies Parameters<typeof waitlistWorkflow>);
}

/** Room membership or details may have changed: `chat-room:<slug>`. */
export function requestChatSync(client: Client, config: Config, target: { kind: 'event' | 'group'; slug: string }): Promise<string> {
  return wake(client, config, 'chat-room', target.slug, SIGNALS.chatSync, [target] satisfies Parameters<typeof chatRoomWorkflow>, { kind: target.kind });
}

/** The series changed (or was created): `series:<slug>`. */
export function requestMaterialization(client: Client, config: Config, seriesSlug: string): Promise<string> {
  return wake(client, config, 'series', seriesSlug, SIGNALS.seriesChanged,
    [{ seriesSlug, horizonDays: config.SERIES_HORIZON_DAYS, maxOccurrences: config.SERIES_MAX_OCCURRENCES }] satisfies Parameters<typeof seriesWorkflow>);
}

/** The event changed or should be published now: `bsky-publish:<slug>`. */
export function requestPublish(client: Client, config: Config, eventSlug: string): Promise<string> {
  return wake(client, config, 'bsky-publish', eventSlug, SIGNALS.publish, [{ eventSlug }] satisfies Parameters<typeof blueskyPublishWorkflow>);
}

/** The series changed or should be published now: `bsky-publish-series:<slug>` (its next occurrence). */
export function requestSeriesPublish(client: Client, config: Config, seriesSlug: string): Promise<string> {
  return wake(client, config, 'bsky-publish-series', seriesSlug, SIGNALS.publish, [{ seriesSlug }] satisfies Parameters<typeof blueskySeriesPublishWorkflow>);
}

/** Someone's attendance changed: `bsky-rsvp:<event slug>/<user slug>` makes their RSVP record match. */
export function requestRsvpPublish(client: Client, config: Config, eventSlug: string, user: { id: string; slug: string }): Promise<string> {
  return wake(client, config, 'bsky-rsvp', `${eventSlug}/${user.slug}`, SIGNALS.publish,
    [{ eventSlug, userId: user.id }] satisfies Parameters<typeof blueskyRsvpWorkflow>);
}

/** A change to one record from the network, handed to `bsky-ingest:<uri>` (durable once this returns). */
export function requestIngest(client: Client, config: Config, uri: string, op: IngestOp): Promise<string> {
  return wake(client, config, 'bsky-ingest', uri, SIGNALS.ingest, [{ uri }] satisfies Parameters<typeof ingestWorkflow>, { signalArgs: [op] });
}

/** The user's sync, `bsky-sync:<did>`; one already running is the answer. */
export function requestSync(client: Client, config: Config, did: string): Promise<string> {
  return startOperation(client, config, 'bsky-sync', did, [{ did }] satisfies Parameters<typeof blueskySyncWorkflow>);
}

/** Meetflow's records taken off the user's repo, then their session forgotten: `bsky-unpublish:<did>`. */
export function requestUnpublish(client: Client, config: Config, did: string): Promise<string> {
  return startOperation(client, config, 'bsky-unpublish', did, [{ did }] satisfies Parameters<typeof blueskyUnpublishWorkflow>);
}
