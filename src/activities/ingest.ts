import { AtpAgent } from '@atproto/api';
import { log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import { MalformedRecord, opFromRecord, repoOf, type ExternalEvent, type ExternalRsvp } from '../domain/ingest.ts';
import { DomainError } from '../domain/errors.ts';
import { rsvp } from '../domain/rsvp.ts';
import { makeSlug } from '../domain/slug.ts';
import { assertFetchable, idResolver } from '../identity.ts';
import { recordFollowUps, type FollowUpRelay, type Recorded } from '../follow-ups/outbox.ts';
import { afterRsvp, publishNow, rsvpRecord, type FollowUp } from '../follow-ups/rules.ts';
import { requestIngest } from '../temporal/signals.ts';
import { rsvpRkey } from './bluesky/rsvps.ts';
import { deadLetter, type DeadLetter } from '../db/dead-letters.ts';
import { rsvpFromRecord, rsvpPublishedAs, rsvpSourceOf, rsvpsMissingFrom, setRsvpSource } from '../db/attendees.ts';
import {
  eventIngestedFrom, eventOfRecord, eventPublishedAs, insertNetworkEvent, lockNetworkEvent, publishableEventsOf, updateNetworkEvent,
  type NetworkEvent,
} from '../db/events.ts';
import { connectedUserByDid, ensureShadowUser, userByDid, userIdByDid } from '../db/users.ts';

export type IngestResult =
  | { state: 'created' | 'updated' | 'unchanged'; slug: string }
  | { state: 'skipped'; reason: string }
  | { state: 'parked'; reason: string };

export interface SyncPage { cursor: string | null; uris: string[]; applied: Record<string, number> }

export function ingestActivities({ ds, temporal, config, followUps }: { ds: DataSource; temporal: Client; config: Config; followUps: FollowUpRelay }) {
  /**
   * The meetflow user of a DID: the real user with it, or a shadow account (handle as name, no
   * email), created once (DID unique) with the handle and PDS its DID document names.
   */
  async function userFor(did: string, handle: string | null): Promise<string> {
    const known = await userIdByDid(ds, did);
    if (known) return known;
    const identity = await idResolver(config).did.resolveAtprotoData(did).catch(() => null);
    const name = identity?.handle ?? handle ?? did;
    return ensureShadowUser(ds, { slug: makeSlug(name), name, handle: identity?.handle ?? handle, did, pdsUrl: identity?.pds ?? null });
  }

  /** A record claimed for someone whose repo does not hold it: refused and kept for operators. */
  async function notTheAuthors(uri: string, did: string, payload: unknown): Promise<IngestResult> {
    const reason = `${uri} is not a record of ${did}`;
    await deadLetter(ds, { source: 'ingest', uri, reason, payload });
    return { state: 'skipped', reason };
  }

  /**
   * Upserts an event from the network, found by source id (AT-URI), then source URL, then the
   * author's rkey; the same CID again changes nothing. meetflow's own records coming back are
   * skipped (loop prevention). A record speaks only for its author: URL and rkey matches are
   * among that author's ingested events, never another's.
   */
  async function ingestEvent(e: ExternalEvent): Promise<IngestResult> {
    if (repoOf(e.sourceId) !== e.creator.did) return notTheAuthors(e.sourceId, e.creator.did, e);
    // Ours: its link back to meetflow (there before the row knows the record's URI), or the URI.
    if (e.sourceUrl?.startsWith(`${config.PUBLIC_BASE_URL}/events/`)) return { state: 'skipped', reason: 'meetflow\'s own record' };
    const own = await eventPublishedAs(ds, e.sourceId);
    if (own) return { state: 'skipped', reason: `meetflow's own record of ${own.slug}` };
    const ownerId = await userFor(e.creator.did, e.creator.handle);
    const row: NetworkEvent = {
      sourceId: e.sourceId, sourceCid: e.sourceCid, sourceUrl: e.sourceUrl, did: e.creator.did, rkey: e.sourceId.split('/').pop()!,
      name: e.name, description: e.description, startAt: new Date(e.startAt), endAt: new Date(e.endAt), timeZone: e.timeZone,
      location: e.location, onlineUrl: e.onlineUrl, country: e.country, status: e.status,
    };
    return ds.transaction(async (m) => {
      const found = await lockNetworkEvent(m, row);
      if (found && found.source_id === e.sourceId && e.sourceCid && found.source_cid === e.sourceCid) return { state: 'unchanged', slug: found.slug };
      if (found) {
        await updateNetworkEvent(m, found.id, row);
        return { state: 'updated', slug: found.slug };
      }
      const slug = await insertNetworkEvent(m, row, makeSlug(e.name), ownerId);
      if (!slug) throw new Error(`event ${e.sourceId} was inserted concurrently; retrying`);
      log.info('event ingested', { uri: e.sourceId, slug });
      return { state: 'created', slug };
    });
  }

  /**
   * Applies an RSVP from the network through the same rules as the API (capacity, waitlist).
   * Its event is an ingested one or one meetflow published; until it exists the RSVP is
   * `parked`. meetflow's own RSVP records coming back are skipped.
   */
  async function ingestRsvp(r: ExternalRsvp): Promise<IngestResult> {
    if (repoOf(r.sourceId) !== r.userDid) return notTheAuthors(r.sourceId, r.userDid, r);
    // Ours: meetflow's rkey for this subject (known before the row stores the record's URI).
    if (r.sourceId.endsWith(`/${rsvpRkey(r.eventSourceId)}`)) return { state: 'skipped', reason: 'meetflow\'s own RSVP record' };
    const event = await eventOfRecord(ds, r.eventSourceId);
    if (!event) return { state: 'parked', reason: `event ${r.eventSourceId} has not arrived` };
    const userId = await userFor(r.userDid, r.userHandle);
    const existing = await rsvpSourceOf(ds, event.id, userId);
    if (existing?.source_id === r.sourceId && r.sourceCid && existing.source_cid === r.sourceCid) return { state: 'unchanged', slug: event.slug };
    // The attendance, its source and its follow-ups commit together: a retry after a crash finds
    // it all done (and the relay delivers what was recorded).
    let recorded: Recorded[] = [];
    try {
      await rsvp(ds, event.slug, userId, r.status, async (m, result) => {
        await setRsvpSource(m, event.id, userId, r.sourceId, r.sourceCid);
        recorded = await recordFollowUps(m, await afterRsvp(m, config, event.slug, result));
      });
    } catch (err) {
      // The event refuses it (being deleted, draft, cancelled): retrying would not change that.
      if (err instanceof DomainError) return { state: 'skipped', reason: err.message };
      throw err;
    }
    await followUps.deliver(recorded);
    return { state: existing ? 'updated' : 'created', slug: event.slug };
  }

  return {
    ingestEvent,
    ingestRsvp,

    /** The ingested event with this source id, if any (for deletions). */
    async findIngestedEvent(sourceId: string): Promise<string | null> {
      return eventIngestedFrom(ds, sourceId);
    },

    /** An RSVP record deleted on the network: the person is no longer going. */
    async ingestRsvpDelete(sourceId: string): Promise<IngestResult> {
      const a = await rsvpFromRecord(ds, sourceId);
      if (!a) return { state: 'skipped', reason: 'no such RSVP' };
      let recorded: Recorded[] = [];
      const result = await rsvp(ds, a.slug, a.user_id, 'notgoing', async (m, r) => { recorded = await recordFollowUps(m, await afterRsvp(m, config, a.slug, r)); })
        .catch((err) => {
          if (err instanceof DomainError) return null; // the event is being deleted: nothing left to cancel
          throw err;
        });
      if (!result) return { state: 'skipped', reason: `event ${a.slug} is being deleted` };
      await followUps.deliver(recorded);
      return { state: result.changed ? 'updated' : 'unchanged', slug: a.slug };
    },

    deadLetter: (input: DeadLetter) => deadLetter(ds, input),

    /**
     * One page of a user's records of one collection on their PDS (a public listing), each
     * reconciled: meetflow's own records that differ from meetflow are rewritten (meetflow wins),
     * every other record is ingested (the PDS wins). Parked RSVPs go to their ingest workflow.
     */
    async syncRecordsPage(input: { did: string; collection: string; cursor: string | null }): Promise<SyncPage> {
      const user = await userByDid(ds, input.did);
      if (!user?.pdsUrl) return { cursor: null, uris: [], applied: {} };
      await assertFetchable(user.pdsUrl, config);
      const { data } = await new AtpAgent({ service: user.pdsUrl }).com.atproto.repo.listRecords({
        repo: input.did, collection: input.collection, limit: 100, cursor: input.cursor ?? undefined,
      });
      const applied: Record<string, number> = {};
      const count = (what: string) => { applied[what] = (applied[what] ?? 0) + 1; };
      // A PDS answers for its users' repos only: a record of anyone else's repo is not this user's to sync.
      const records = data.records.filter((rec) => repoOf(rec.uri) === input.did);
      if (records.length < data.records.length) applied.foreign = data.records.length - records.length;
      const republish: FollowUp[] = [];
      for (const rec of records) {
        const ownEvent = await eventPublishedAs(ds, rec.uri);
        if (ownEvent) {
          if (ownEvent.bluesky_cid === rec.cid) count('unchanged');
          else { republish.push(publishNow(ownEvent)); count('republished'); }
          continue;
        }
        const ownRsvp = await rsvpPublishedAs(ds, rec.uri);
        if (ownRsvp) {
          if (ownRsvp.bluesky_cid === rec.cid) count('unchanged');
          else { republish.push(rsvpRecord(ownRsvp.slug, user)); count('republished'); }
          continue;
        }
        let op;
        try {
          op = opFromRecord({ uri: rec.uri, collection: input.collection, did: input.did, cid: rec.cid, record: rec.value });
        } catch (err) {
          if (!(err instanceof MalformedRecord)) throw err;
          await deadLetter(ds, { source: 'sync', uri: rec.uri, cid: rec.cid, collection: input.collection, reason: err.message, payload: rec.value });
          count('dead-lettered');
          continue;
        }
        const result = op.kind === 'event' ? await ingestEvent(op.event) : op.kind === 'rsvp' ? await ingestRsvp(op.rsvp) : null;
        if (result?.state === 'parked') {
          await requestIngest(temporal, config, rec.uri, op);
        }
        count(result?.state ?? 'skipped');
      }
      await followUps.now(republish);
      return { cursor: data.cursor ?? null, uris: records.map((r) => r.uri), applied };
    },

    /**
     * The other direction: the user's meetflow events and RSVPs that should be on their PDS and
     * are not (never published, or the record was deleted there) are published by their
     * workflows. Ingested events are never published (loop prevention).
     */
    async publishMissing(input: { did: string; listed: string[] }): Promise<Record<string, number>> {
      const user = await connectedUserByDid(ds, input.did);
      if (!user) return {};
      const listed = new Set(input.listed);
      const events = await publishableEventsOf(ds, user.id);
      const out = { events: 0, series: 0, rsvps: 0 };
      const series = new Set<string>();
      const publish: FollowUp[] = [];
      // A record missing from the listing is written again at its rkey (same URI): the row keeps
      // its URI meanwhile, so an RSVP or a publication racing this sync never sees it unpublished.
      for (const e of events.filter((x) => !x.bluesky_uri || !listed.has(x.bluesky_uri))) {
        if (e.series_slug) series.add(e.series_slug);
        else { publish.push(publishNow({ slug: e.slug, seriesSlug: null })); out.events++; }
      }
      for (const slug of series) { publish.push({ type: 'bsky-publish-series', slug }); out.series++; }
      const rsvps = await rsvpsMissingFrom(ds, user.id, user.bluesky_auto_publish, input.listed);
      for (const r of rsvps) { publish.push(rsvpRecord(r.slug, user)); out.rsvps++; }
      await followUps.now(publish);
      return out;
    },
  };
}
