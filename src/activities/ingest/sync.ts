import { AtpAgent } from '@atproto/api';
import { ApplicationFailure } from '@temporalio/common';
import { answerTooLarge, pdsFetch } from '../../bluesky/pds-fetch.ts';
import { MalformedRecord, opFromRecord, repoOf } from '../../domain/ingest.ts';
import { assertFetchable } from '../../identity.ts';
import { publishNow, rsvpRecord, type FollowUp } from '../../follow-ups/rules.ts';
import { requestIngest } from '../../temporal/signals.ts';
import { deadLetter } from '../../db/dead-letters.ts';
import { eventPublishedAs, publishableEventsOf } from '../../db/event-records.ts';
import { rsvpPublishedAs, rsvpsMissingFrom } from '../../db/rsvp-records.ts';
import { connectedUserByDid, userByDid } from '../../db/users.ts';
import type { applyActivities, IngestDeps } from './apply.ts';

export interface SyncPage { cursor: string | null; uris: string[]; applied: Record<string, number> }

/** A user's sync, both ways: their records on their PDS applied here, and what meetflow should have published there. */
export function syncActivities({ ds, temporal, config, followUps }: IngestDeps, { ingestEvent, ingestRsvp }: ReturnType<typeof applyActivities>) {
  return {
    /**
     * One page of a user's records of one collection on their PDS (a public listing), each
     * reconciled: meetflow's own records that differ from meetflow are rewritten (meetflow wins),
     * every other record is ingested (the PDS wins). Parked RSVPs go to their ingest workflow.
     */
    async syncRecordsPage(input: { did: string; collection: string; cursor: string | null }): Promise<SyncPage> {
      const user = await userByDid(ds, input.did);
      if (!user?.pdsUrl) return { cursor: null, uris: [], applied: {} };
      await assertFetchable(user.pdsUrl, config);
      const { data } = await new AtpAgent({ service: user.pdsUrl, fetch: pdsFetch }).com.atproto.repo.listRecords({
        repo: input.did, collection: input.collection, limit: 100, cursor: input.cursor ?? undefined,
      }).catch((err: Error) => {
        const tooLarge = answerTooLarge(err);
        throw tooLarge ? ApplicationFailure.create({ type: tooLarge.name, message: tooLarge.message, nonRetryable: true }) : err;
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
        else { publish.push(publishNow({ slug: e.slug, ownerId: user.id, seriesSlug: null })); out.events++; }
      }
      for (const slug of series) { publish.push({ type: 'bsky-publish-series', slug }); out.series++; }
      const rsvps = await rsvpsMissingFrom(ds, user.id, user.bluesky_auto_publish, input.listed);
      for (const r of rsvps) { publish.push(rsvpRecord(r.slug, user)); out.rsvps++; }
      await followUps.now(publish);
      return out;
    },
  };
}
