import { TID } from '@atproto/common-web';
import { log } from '@temporalio/activity';
import type { Agent } from '@atproto/api';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { EVENT_COLLECTION, eventRecord } from '../../domain/lexicon.ts';
import { putOwnRecord } from '../../bluesky/records.ts';
import { eventRecordOf, eventToPublish, recordKeyOf, setEventRecord, upcomingOccurrencesToPublish, type EventToPublish } from '../../db/event-records.ts';
import { seriesStatus } from '../../db/series.ts';
import { rsvpActivities } from './rsvps.ts';
import { unpublishActivities } from './unpublish.ts';
import { agentFor, SessionRevokedError } from '../../bluesky/sessions.ts';

export type PublishResult =
  | { state: 'published'; uri: string; cid: string }
  | { state: 'skipped'; reason: string }
  | { state: 'gone' };

export interface SeriesPublishResult {
  state: 'published' | 'skipped' | 'gone';
  /** Occurrences written this round (the next one, and any upcoming one that already had a record). */
  published: string[];
  /** When the next published occurrence ends: the workflow moves on then. */
  nextEndsAt: string | null;
  reason?: string;
}

export interface BlueskyDeps { ds: DataSource; redis: Redis; config: Config }

/** Why this event is not published at all, or null. Events from the network are never published back. */
function notPublishable(e: EventToPublish): string | null {
  if (e.source_type) return 'ingested from the network';
  if (!e.owner_did || !e.bluesky_connected) return 'owner has no Bluesky connection';
  if (e.visibility !== 'public' || e.status === 'draft') return 'only public, published or cancelled events';
  return null;
}

export function blueskyActivities({ ds, redis, config }: BlueskyDeps) {
  /**
   * Creates or updates the event's record on its owner's PDS. The rkey (a TID) is saved before
   * the first write, so a retry rewrites the same record; only the record columns are updated.
   */
  async function writeEventRecord(agent: Agent, e: EventToPublish): Promise<{ uri: string; cid: string }> {
    // An event without an rkey never had a record (the rkey is stored before the first write).
    const rkey = e.bluesky_rkey ?? await recordKeyOf(ds, e.id, TID.nextStr());
    const written = await putOwnRecord(agent, { repo: e.owner_did!, collection: EVENT_COLLECTION, rkey }, (stored) => eventRecord({
      slug: e.slug, name: e.name, description: e.description, startAt: e.start_at, endAt: e.end_at, createdAt: e.created_at,
      status: e.status, location: e.location, country: e.country, onlineUrl: e.online_url, seriesSlug: e.series_slug,
    }, config.PUBLIC_BASE_URL, stored), !e.bluesky_rkey);
    await setEventRecord(ds, e.id, written);
    log.info('event published to Bluesky', { slug: e.slug, uri: written.uri });
    return written;
  }

  return {
    /**
     * One round of `bsky-publish:<slug>`. A series occurrence gets its first record from the
     * series' workflow (only the next one is published); here it is only kept up to date.
     */
    async publishEventRecord(slug: string): Promise<PublishResult> {
      const e = await eventToPublish(ds, slug);
      if (!e || e.status === 'deleting') return { state: 'gone' };
      const reason = notPublishable(e) ?? (e.series_slug && !e.bluesky_rkey ? 'series occurrences are published by their series, next first' : null);
      if (reason) return { state: 'skipped', reason };
      const written = await writeEventRecord(await agentFor(e.owner_did!, { ds, redis, config }), e);
      return { state: 'published', ...written };
    },

    /**
     * One round of `bsky-publish-series:<slug>`: publishes the series' next occurrence that takes
     * place (ends after `asOf`, the workflow's clock) and updates any other upcoming occurrence
     * that already has a record (e.g. one cancelled since). Past occurrences keep their records:
     * they are what people RSVPed to.
     */
    async publishSeriesNext(input: { seriesSlug: string; asOf: string }): Promise<SeriesPublishResult> {
      const status = await seriesStatus(ds, input.seriesSlug);
      if (!status || status === 'deleting') return { state: 'gone', published: [], nextEndsAt: null };
      const upcoming = await upcomingOccurrencesToPublish(ds, input.seriesSlug, input.asOf);
      const next = upcoming.find((e) => e.status === 'published');
      const targets = upcoming.filter((e) => e === next || e.bluesky_rkey);
      const reason = next ? notPublishable(next) : 'no upcoming occurrence';
      if (reason) return { state: 'skipped', reason, published: [], nextEndsAt: next?.end_at.toISOString() ?? null };
      const agent = await agentFor(next!.owner_did!, { ds, redis, config });
      for (const e of targets) await writeEventRecord(agent, e);
      return { state: 'published', published: targets.map((e) => e.slug), nextEndsAt: next!.end_at.toISOString() };
    },

    /**
     * Deletes the event's record from its owner's PDS (already gone is success). A record whose
     * owner's session is revoked cannot be reached by meetflow any more: recorded and skipped.
     */
    async deleteEventRecord(eventId: string): Promise<'deleted' | 'none' | 'skipped: session revoked'> {
      const e = await eventRecordOf(ds, eventId);
      if (!e?.bluesky_uri || !e.did) return 'none';
      let agent;
      try {
        agent = await agentFor(e.did, { ds, redis, config });
      } catch (err) {
        if (err instanceof SessionRevokedError) {
          log.warn('Bluesky record left in place: the owner revoked the session', { uri: e.bluesky_uri });
          return 'skipped: session revoked';
        }
        throw err;
      }
      await agent.com.atproto.repo.deleteRecord({ repo: e.did, collection: EVENT_COLLECTION, rkey: e.bluesky_rkey });
      await setEventRecord(ds, eventId, null);
      return 'deleted';
    },

    ...rsvpActivities({ ds, redis, config }),
    ...unpublishActivities({ ds, redis, config }),
  };
}
