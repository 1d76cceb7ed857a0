import { ComAtprotoRepoPutRecord } from '@atproto/api';
import { TID } from '@atproto/common-web';
import { ApplicationFailure, log } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { EVENT_COLLECTION, eventRecord } from '../../domain/lexicon.ts';
import { agentFor } from './sessions.ts';

export type PublishResult =
  | { state: 'published'; uri: string; cid: string }
  | { state: 'skipped'; reason: string }
  | { state: 'gone' };

export interface BlueskyDeps { ds: DataSource; redis: Redis; config: Config }

export function blueskyActivities({ ds, redis, config }: BlueskyDeps) {
  return {
    /**
     * Creates or updates the event's record on its owner's PDS. The rkey (a TID) is saved before
     * the first write, so a retry rewrites the same record. Each write starts from the record as
     * it is now (fields of other apps kept) and swaps against its CID; a record that changed in
     * between is a conflict the retry re-reads, never a blind overwrite. Events that came from
     * the network are never published back.
     */
    async publishEventRecord(slug: string): Promise<PublishResult> {
      const [e] = await ds.query(
        `SELECT e.*, u.did AS owner_did, u.bluesky_connected FROM events e JOIN users u ON u.id = e.owner_id WHERE e.slug = $1`, [slug]);
      if (!e || e.status === 'deleting') return { state: 'gone' };
      if (e.source_type) return { state: 'skipped', reason: 'ingested from the network' };
      if (!e.owner_did || !e.bluesky_connected) return { state: 'skipped', reason: 'owner has no Bluesky connection' };
      if (e.visibility !== 'public' || e.status === 'draft') return { state: 'skipped', reason: 'only public, published or cancelled events' };

      const agent = await agentFor(e.owner_did, { ds, redis });
      if (!e.bluesky_rkey) {
        await ds.query(`UPDATE events SET bluesky_rkey = $2 WHERE id = $1 AND bluesky_rkey IS NULL`, [e.id, TID.nextStr()]);
      }
      const [{ bluesky_rkey: rkey }] = await ds.query(`SELECT bluesky_rkey FROM events WHERE id = $1`, [e.id]);
      const repo = e.owner_did as string;
      const current = await agent.com.atproto.repo.getRecord({ repo, collection: EVENT_COLLECTION, rkey })
        .then((r) => ({ cid: r.data.cid ?? null, value: r.data.value as Record<string, unknown> }))
        .catch((err) => { if (/RecordNotFound|Could not locate record/i.test(String(err?.message ?? err?.error))) return null; throw err; });
      const record = eventRecord({
        slug: e.slug, name: e.name, description: e.description, startAt: e.start_at, endAt: e.end_at, createdAt: e.created_at,
        status: e.status, location: e.location, onlineUrl: e.online_url, seriesSlug: e.series_slug,
      }, config.PUBLIC_BASE_URL, current?.value);
      try {
        const { data } = await agent.com.atproto.repo.putRecord({
          repo, collection: EVENT_COLLECTION, rkey, record, swapRecord: current?.cid ?? null, validate: false,
        });
        await ds.query(
          `UPDATE events SET bluesky_uri = $2, bluesky_cid = $3, bluesky_published_at = now(), updated_at = now() WHERE id = $1`,
          [e.id, data.uri, data.cid]);
        log.info('event published to Bluesky', { slug, uri: data.uri });
        return { state: 'published', uri: data.uri, cid: data.cid };
      } catch (err) {
        if (err instanceof ComAtprotoRepoPutRecord.InvalidSwapError) {
          throw ApplicationFailure.create({ type: 'BlueskyRecordChanged', message: `record of ${slug} changed while writing; re-reading` });
        }
        throw err;
      }
    },

    /**
     * Deletes the event's record from its owner's PDS (already gone is success). A record whose
     * owner's session is revoked cannot be reached by meetflow any more: recorded and skipped.
     */
    async deleteEventRecord(eventId: string): Promise<'deleted' | 'none' | 'skipped: session revoked'> {
      const [e] = await ds.query(
        `SELECT e.bluesky_rkey, e.bluesky_uri, u.did FROM events e JOIN users u ON u.id = e.owner_id WHERE e.id = $1`, [eventId]);
      if (!e?.bluesky_uri || !e.did) return 'none';
      let agent;
      try {
        agent = await agentFor(e.did, { ds, redis });
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === 'BlueskySessionRevoked') {
          log.warn('Bluesky record left in place: the owner revoked the session', { uri: e.bluesky_uri });
          return 'skipped: session revoked';
        }
        throw err;
      }
      await agent.com.atproto.repo.deleteRecord({ repo: e.did, collection: EVENT_COLLECTION, rkey: e.bluesky_rkey });
      await ds.query(`UPDATE events SET bluesky_uri = NULL, bluesky_cid = NULL, updated_at = now() WHERE id = $1`, [eventId]);
      return 'deleted';
    },
  };
}
