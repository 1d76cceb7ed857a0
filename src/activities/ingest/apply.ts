import { log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { repoOf, type ExternalEvent, type ExternalRsvp } from '../../domain/ingest.ts';
import { DomainError } from '../../domain/errors.ts';
import { rsvp } from '../../domain/rsvp.ts';
import { makeSlug } from '../../domain/slug.ts';
import { recordFollowUps, type FollowUpRelay, type Recorded } from '../../follow-ups/outbox.ts';
import { afterRsvp } from '../../follow-ups/rules.ts';
import { rsvpRkey } from '../bluesky/rsvps.ts';
import { deadLetter, type DeadLetter } from '../../db/dead-letters.ts';
import { rsvpFromRecord, rsvpSourceOf, setRsvpSource } from '../../db/rsvp-records.ts';
import {
  applyNetworkEvents, eventIngestedFrom, eventOfRecord, ingestedByAuthors, type NetworkEvent, type NetworkEventOutcome,
} from '../../db/event-records.ts';
import { lookUpNewAuthors, userFor } from './authors.ts';

export type IngestResult =
  | { state: 'created' | 'updated' | 'unchanged'; slug: string }
  | { state: 'skipped'; reason: string }
  | { state: 'parked'; reason: string };

export interface IngestDeps { ds: DataSource; temporal: Client; config: Config; followUps: FollowUpRelay }

/** A record claimed for someone whose repo does not hold it: refused and kept for operators. */
async function notTheAuthors(deps: IngestDeps, uri: string, did: string, payload: unknown): Promise<IngestResult> {
  const { ds } = deps;
  const reason = `${uri} is not a record of ${did}`;
  await deadLetter(ds, { source: 'ingest', uri, reason, payload });
  return { state: 'skipped', reason };
}

/**
 * New events beyond their author's quota (INGEST_MAX_EVENTS_PER_AUTHOR), in order: any author can
 * publish records without end, and each would be a row here. Changes to events already here are
 * never held back. `es` are distinct records (a lane's run). Answers the indexes of those held back.
 */
async function beyondQuota(deps: IngestDeps, es: ExternalEvent[]): Promise<Set<number>> {
  const max = deps.config.INGEST_MAX_EVENTS_PER_AUTHOR;
  const { counts, known } = await ingestedByAuthors(deps.ds, [...new Set(es.map((e) => e.creator.did))], es.map((e) => e.sourceId));
  const held = new Set<number>();
  for (const [k, e] of es.entries()) {
    if (known.has(e.sourceId)) continue;
    const n = counts.get(e.creator.did) ?? 0;
    if (n < max) counts.set(e.creator.did, n + 1);
    else held.add(k);
  }
  for (const did of new Set([...held].map((k) => es[k].creator.did))) {
    log.warn('ingest quota reached: new events of this author are skipped', { did, max, skipped: [...held].filter((k) => es[k].creator.did === did).length });
  }
  return held;
}

/**
 * Upserts events from the network, each found by source id (AT-URI), then source URL, then the
 * author's rkey; the same CID again changes nothing. meetflow's own records coming back are
 * skipped (loop prevention). A record speaks only for its author: URL and rkey matches are
 * among that author's ingested events, never another's. Distinct records (the firehose hands
 * them over by the hundred) go in one statement; records that meet go one at a time, in order.
 */
async function ingestEvents(deps: IngestDeps, es: ExternalEvent[]): Promise<IngestResult[]> {
  const { ds, config } = deps;
  const results: IngestResult[] = [];
  const candidates: { at: number; e: ExternalEvent }[] = [];
  const forged: number[] = [];
  for (const [at, e] of es.entries()) {
    if (repoOf(e.sourceId) !== e.creator.did) forged.push(at);
    // Ours: its link back to meetflow (there before the row knows the record's URI), or the URI.
    else if (e.sourceUrl?.startsWith(`${config.PUBLIC_BASE_URL}/events/`)) results[at] = { state: 'skipped', reason: 'meetflow\'s own record' };
    else candidates.push({ at, e });
  }
  const held = await beyondQuota(deps, candidates.map((c) => c.e));
  const rows = candidates.filter((c, k) => {
    if (held.has(k)) results[c.at] = { state: 'skipped', reason: `its author has ${config.INGEST_MAX_EVENTS_PER_AUTHOR} events from the network here (the quota)` };
    return !held.has(k);
  });
  // Together, or one at a time when they meet (one record alone always applies).
  const written = async (rs: typeof rows): Promise<NetworkEventOutcome[]> => {
    const toRow = (r: typeof rows[number]) => ({ event: asNetworkEvent(r.e), slug: makeSlug(r.e.name) });
    const together = await applyNetworkEvents(ds, rs.map(toRow));
    if (together) return together;
    const outcomes: NetworkEventOutcome[] = [];
    for (const r of rs) outcomes.push(...(await applyNetworkEvents(ds, [toRow(r)]))!);
    return outcomes;
  };
  const outcomes = await written(rows);
  // Authors seen for the first time: their shadow accounts, then their records, again together.
  const waiting = rows.filter((_, k) => outcomes[k].state === 'needsOwner');
  if (waiting.length) {
    const authors = new Map(waiting.map((r) => [r.e.creator.did, r.e.creator.handle]));
    await lookUpNewAuthors(deps, [...authors.keys()]);
    for (const [did, handle] of authors) await userFor(deps, did, handle);
    const later = await written(waiting);
    let w = 0;
    for (const k of rows.keys()) if (outcomes[k].state === 'needsOwner') outcomes[k] = later[w++];
  }
  for (const [k, r] of rows.entries()) results[r.at] = resultOf(r.e, outcomes[k]);
  // Last: a failure above (retried, or the batch's records then applied one at a time) has written no dead letter twice.
  for (const at of forged) results[at] = await notTheAuthors(deps, es[at].sourceId, es[at].creator.did, es[at]);
  return results;
}

function asNetworkEvent(e: ExternalEvent): NetworkEvent {
  return {
    sourceId: e.sourceId, sourceCid: e.sourceCid, sourceUrl: e.sourceUrl, did: e.creator.did, rkey: e.sourceId.split('/').pop()!,
    name: e.name, description: e.description, startAt: new Date(e.startAt), endAt: new Date(e.endAt), timeZone: e.timeZone,
    location: e.location, onlineUrl: e.onlineUrl, country: e.country, status: e.status,
  };
}

function resultOf(e: ExternalEvent, outcome: NetworkEventOutcome): IngestResult {
  switch (outcome.state) {
    case 'own': return { state: 'skipped', reason: `meetflow's own record of ${outcome.slug}` };
    case 'needsOwner': case 'raced': throw new Error(`event ${e.sourceId} was written concurrently; retrying`);
    case 'created': log.info('event ingested', { uri: e.sourceId, slug: outcome.slug });
  }
  return outcome;
}

/**
 * Applies an RSVP from the network through the same rules as the API (capacity, waitlist).
 * Its event is an ingested one or one meetflow published; until it exists the RSVP is
 * `parked`. meetflow's own RSVP records coming back are skipped.
 */
async function ingestRsvp(deps: IngestDeps, r: ExternalRsvp): Promise<IngestResult> {
  const { ds, config, followUps } = deps;
  if (repoOf(r.sourceId) !== r.userDid) return notTheAuthors(deps, r.sourceId, r.userDid, r);
  // Ours: meetflow's rkey for this subject (known before the row stores the record's URI).
  if (r.sourceId.endsWith(`/${rsvpRkey(r.eventSourceId)}`)) return { state: 'skipped', reason: 'meetflow\'s own RSVP record' };
  const event = await eventOfRecord(ds, r.eventSourceId);
  if (!event) return { state: 'parked', reason: `event ${r.eventSourceId} has not arrived` };
  const userId = await userFor(deps, r.userDid, r.userHandle);
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

/** Applying one record from the network (an event or an RSVP, created, changed or deleted) to the rows. */
export function applyActivities(deps: IngestDeps) {
  const { ds, config, followUps } = deps;
  return {
    ingestEvent: async (e: ExternalEvent) => (await ingestEvents(deps, [e]))[0],
    /** Several at once (the firehose's batches): each result as if applied alone, in order. */
    ingestEvents: (es: ExternalEvent[]) => ingestEvents(deps, es),
    ingestRsvp: (r: ExternalRsvp) => ingestRsvp(deps, r),

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
  };
}
