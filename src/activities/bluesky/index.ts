import { TID } from '@atproto/common-web';
import { log } from '@temporalio/activity';
import type { Agent } from '@atproto/api';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { EVENT_COLLECTION, eventRecord } from '../../domain/lexicon.ts';
import { putOwnRecord, refusal } from '../../bluesky/records.ts';
import {
  clearEventRecord, eventRecordOf, eventsToPublish, recordKeysOf, setEventRecords, upcomingOccurrencesToPublish, type EventToPublish,
} from '../../db/event-records.ts';
import { seriesStatus } from '../../db/series.ts';
import { runBounded } from '../../concurrency.ts';
import { rsvpActivities } from './rsvps.ts';
import { unpublishActivities } from './unpublish.ts';
import { agentFor, SessionRevokedError } from '../../bluesky/sessions.ts';

export type PublishResult =
  | { state: 'published'; uri: string; cid: string }
  | { state: 'skipped'; reason: string }
  | { state: 'gone' };

/** An event whose record the PDS refused, with its reason. */
export interface Refused { slug: string; reason: string }

/** One round of `bsky-publisher:<user id>`: what became of each event asked for. */
export interface EventsPublishResult {
  published: string[];
  skipped: { slug: string; reason: string }[];
  gone: string[];
  refused: Refused[];
}

export interface SeriesPublishResult {
  state: 'published' | 'skipped' | 'gone';
  /** Occurrences written this round (the next one, and any upcoming one that already had a record). */
  published: string[];
  /** When the next published occurrence ends: the workflow moves on then. */
  nextEndsAt: string | null;
  reason?: string;
}

/** Records already on the PDS rewritten side by side in one round. */
const UPDATES_AT_ONCE = 4;

export interface BlueskyDeps { ds: DataSource; redis: Redis; config: Config }

/** Why this event is not published at all, or null. Events from the network are never published back. */
function notPublishable(e: EventToPublish): string | null {
  if (e.source_type) return 'ingested from the network';
  if (!e.owner_did || !e.bluesky_connected) return 'owner has no Bluesky connection';
  if (e.visibility !== 'public' || e.status === 'draft') return 'only public, published or cancelled events';
  return null;
}

export function blueskyActivities({ ds, redis, config }: BlueskyDeps) {
  function recordOf(e: EventToPublish, stored: Record<string, unknown> | undefined) {
    return eventRecord({
      slug: e.slug, name: e.name, description: e.description, startAt: e.start_at, endAt: e.end_at, createdAt: e.created_at,
      status: e.status, location: e.location, country: e.country, onlineUrl: e.online_url, seriesSlug: e.series_slug,
    }, config.PUBLIC_BASE_URL, stored);
  }

  /**
   * Creates or updates the records of one owner's events; answers the slugs written and those the
   * PDS refused (with its reason). Each rkey is saved before the first write, so a retry rewrites
   * the same record. Events that never had a record are created together, in one commit
   * (`applyWrites`); records already there are read and swapped one by one (`putOwnRecord`). A
   * refused commit is written record by record, and a record the PDS refuses (too large, invalid)
   * is set aside: it does not hold up the author's other events, and is tried again on the event's
   * next change (or the reconciler's). A record written while its event was being deleted is
   * removed again.
   */
  async function writeEventRecords(agent: Agent, did: string, events: EventToPublish[]): Promise<{ written: string[]; refused: Refused[] }> {
    const offered = new Map(events.filter((e) => !e.bluesky_rkey).map((e) => [e.id, TID.nextStr()]));
    const keys = await recordKeysOf(ds, [...offered].map(([id, rkey]) => ({ id, rkey })));
    // Fresh: the key offered here was taken, so nothing can be stored under it yet.
    const fresh = new Set(events.filter((e) => offered.has(e.id) && keys.get(e.id) === offered.get(e.id)));
    const written: { id: string; slug: string; rkey: string; uri: string; cid: string }[] = [];
    const refused: Refused[] = [];
    if (fresh.size) {
      const batch = [...fresh];
      try {
        const { data } = await agent.com.atproto.repo.applyWrites({
          repo: did, validate: false,
          writes: batch.map((e) => ({ $type: 'com.atproto.repo.applyWrites#create' as const, collection: EVENT_COLLECTION, rkey: keys.get(e.id)!, value: recordOf(e, undefined) })),
        });
        batch.forEach((e, i) => {
          const r = data.results?.[i] as { uri?: string; cid?: string } | undefined;
          if (!r?.uri || !r.cid) throw new Error(`applyWrites answered no record for ${e.slug}`);
          written.push({ id: e.id, slug: e.slug, rkey: keys.get(e.id)!, uri: r.uri, cid: r.cid });
        });
      } catch (err) {
        if (!refusal(err)) throw err; // else each is written on its own below, to find the one refused
      }
    }
    // A read and a swap each (none for a fresh key), a few side by side: a slow PDS keeps a round inside its timeout.
    const committed = new Set(written.map((w) => w.id));
    await runBounded(events.filter((e) => !committed.has(e.id)), UPDATES_AT_ONCE, async (e) => {
      const rkey = e.bluesky_rkey ?? keys.get(e.id)!;
      try {
        const w = await putOwnRecord(agent, { repo: did, collection: EVENT_COLLECTION, rkey }, (stored) => recordOf(e, stored), fresh.has(e));
        written.push({ id: e.id, slug: e.slug, rkey, ...w });
      } catch (err) {
        const reason = refusal(err);
        if (!reason) throw err;
        log.warn('the PDS refused an event record', { did, slug: e.slug, reason });
        refused.push({ slug: e.slug, reason });
      }
    });
    const deleting = new Set(await setEventRecords(ds, written));
    for (const w of written.filter((x) => deleting.has(x.id))) {
      await agent.com.atproto.repo.deleteRecord({ repo: did, collection: EVENT_COLLECTION, rkey: w.rkey });
    }
    const saved = written.filter((w) => !deleting.has(w.id));
    if (saved.length) log.info('events published to Bluesky', { did, slugs: saved.map((w) => w.slug) });
    return { written: saved.map((w) => w.slug), refused };
  }

  /**
   * The events' records made to match their rows. A series occurrence gets its first record from
   * the series' workflow (only the next one is published); here it is only kept up to date.
   */
  async function publishEventRecords(slugs: string[]): Promise<EventsPublishResult> {
    const rows = new Map((await eventsToPublish(ds, slugs)).map((e) => [e.slug, e]));
    const out: EventsPublishResult = { published: [], skipped: [], gone: [], refused: [] };
    const byOwner = new Map<string, EventToPublish[]>();
    for (const slug of new Set(slugs)) {
      const e = rows.get(slug);
      if (!e || e.status === 'deleting') { out.gone.push(slug); continue; }
      const reason = notPublishable(e) ?? (e.series_slug && !e.bluesky_rkey ? 'series occurrences are published by their series, next first' : null);
      if (reason) out.skipped.push({ slug, reason });
      else byOwner.set(e.owner_did!, [...byOwner.get(e.owner_did!) ?? [], e]);
    }
    for (const [did, events] of byOwner) {
      const { written, refused } = await writeEventRecords(await agentFor(did, { ds, redis, config }), did, events);
      out.published.push(...written);
      out.refused.push(...refused);
      const answered = new Set([...written, ...refused.map((r) => r.slug)]);
      out.gone.push(...events.filter((e) => !answered.has(e.slug)).map((e) => e.slug));
    }
    return out;
  }

  return {
    /** One round of `bsky-publisher:<user id>`. */
    publishEventRecords,

    /** One round of `bsky-publish:<slug>` (runs started before `bsky-publisher`). */
    async publishEventRecord(slug: string): Promise<PublishResult> {
      const { published, skipped, refused } = await publishEventRecords([slug]);
      const notWritten = [...skipped, ...refused];
      if (notWritten.length) return { state: 'skipped', reason: notWritten[0].reason };
      const [e] = published.length ? await eventsToPublish(ds, [slug]) : [];
      return e ? { state: 'published', uri: e.bluesky_uri, cid: e.bluesky_cid } : { state: 'gone' };
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
      const did = next!.owner_did!;
      const { written, refused } = await writeEventRecords(await agentFor(did, { ds, redis, config }), did, targets);
      const nextRefused = refused.find((r) => r.slug === next!.slug);
      if (nextRefused) return { state: 'skipped', reason: `refused by the PDS: ${nextRefused.reason}`, published: written, nextEndsAt: next!.end_at.toISOString() };
      return { state: 'published', published: written, nextEndsAt: next!.end_at.toISOString() };
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
      await clearEventRecord(ds, eventId);
      return 'deleted';
    },

    ...rsvpActivities({ ds, redis, config }),
    ...unpublishActivities({ ds, redis, config }),
  };
}
