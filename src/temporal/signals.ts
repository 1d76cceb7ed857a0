import type { Client } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { IngestOp, LaneOp } from '../domain/ingest.ts';
import { startNextRun, startOperation, wakeOperation } from './client.ts';

/** Seats may have been freed: `waitlist:<slug>`. */
export function notifySeatsChanged(client: Client, config: Config, eventSlug: string): Promise<string> {
  return wakeOperation(client, config, 'waitlist', eventSlug, { eventSlug });
}

/** Room membership or details may have changed: `chat-room:<slug>`. */
export function requestChatSync(client: Client, config: Config, target: { kind: 'event' | 'group'; slug: string }): Promise<string> {
  return wakeOperation(client, config, 'chat-room', target.slug, target, { kind: target.kind });
}

/** The series changed (or was created): `series:<slug>`. */
export function requestMaterialization(client: Client, config: Config, seriesSlug: string): Promise<string> {
  return wakeOperation(client, config, 'series', seriesSlug,
    { seriesSlug, horizonDays: config.SERIES_HORIZON_DAYS, maxOccurrences: config.SERIES_MAX_OCCURRENCES });
}

/** The event changed or should be published now: its owner's `bsky-publisher:<user id>`. */
export function requestPublish(client: Client, config: Config, ownerId: string, eventSlug: string): Promise<string> {
  return wakeOperation(client, config, 'bsky-publisher', ownerId, { userId: ownerId }, { signalArgs: [eventSlug] });
}

/** Follow-ups recorded before `bsky-publisher` existed: `bsky-publish:<slug>`. */
export function requestLegacyPublish(client: Client, config: Config, eventSlug: string): Promise<string> {
  return wakeOperation(client, config, 'bsky-publish', eventSlug, { eventSlug });
}

/** The series changed or should be published now: `bsky-publish-series:<slug>` (its next occurrence). */
export function requestSeriesPublish(client: Client, config: Config, seriesSlug: string): Promise<string> {
  return wakeOperation(client, config, 'bsky-publish-series', seriesSlug, { seriesSlug });
}

/** Someone's attendance changed: `bsky-rsvp:<event slug>/<user slug>` makes their RSVP record match. */
export function requestRsvpPublish(client: Client, config: Config, eventSlug: string, user: { id: string; slug: string }): Promise<string> {
  return wakeOperation(client, config, 'bsky-rsvp', `${eventSlug}/${user.slug}`, { eventSlug, userId: user.id });
}

/** A change to one record from the network, handed to `bsky-ingest:<uri>` (durable once this returns). */
export function requestIngest(client: Client, config: Config, uri: string, op: IngestOp): Promise<string> {
  return wakeOperation(client, config, 'bsky-ingest', uri, { uri }, { signalArgs: [op] });
}

/**
 * A batch of firehose changes for lane `lane`: `bsky-ingest-lane:<lane>`, started once the lane's
 * previous batch is done (durable once this returns); answers the batch's handle.
 */
export function handOffLaneBatch(client: Client, config: Config, lane: number, ops: LaneOp[]) {
  return startNextRun(client, config, 'bsky-ingest-lane', String(lane), { ops });
}

/**
 * The user's sync, `bsky-sync:<did>`: started, or told to pass once more when it is running (the
 * running pass may have read the user's settings and records before the change that asks).
 */
export function requestSync(client: Client, config: Config, did: string): Promise<string> {
  return wakeOperation(client, config, 'bsky-sync', did, { did });
}

/** Meetflow's records taken off the user's repo, then their session forgotten: `bsky-unpublish:<did>`. */
export function requestUnpublish(client: Client, config: Config, did: string): Promise<string> {
  return startOperation(client, config, 'bsky-unpublish', did, { did });
}
