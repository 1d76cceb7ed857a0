import { createHash } from 'node:crypto';
import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { RSVP_COLLECTION, rsvpRecord } from '../../domain/lexicon.ts';
import { runBounded } from '../../concurrency.ts';
import { putOwnRecord } from '../../bluesky/records.ts';
import { FAILURE } from '../../temporal/failures.ts';
import { rsvpRecordsOfEvent, rsvpToPublish, setRsvpRecord } from '../../db/rsvp-records.ts';
import { agentFor, SessionRevokedError } from '../../bluesky/sessions.ts';

/**
 * An RSVP record's rkey is derived from the event record's URI: one record per person and event,
 * found again without a lookup (and after the attendee row is gone).
 */
export function rsvpRkey(subjectUri: string): string {
  return createHash('sha256').update(subjectUri).digest('hex').slice(0, 32);
}

export type RsvpPublishResult =
  | { state: 'published'; uri: string; cid: string; status: string }
  | { state: 'deleted' }
  | { state: 'skipped'; reason: string }
  | { state: 'gone' };

/** What deleting an event's RSVP records did (failed: left on a PDS that kept failing). */
export interface RsvpRecordsResult { deleted: number; unreachable: number; failed: number; failedUris: string[] }

const RECIPIENT_ATTEMPTS = 5;
const RECIPIENT_TIMEOUT_MS = 15_000;
const RECIPIENT_CONCURRENCY = 8;

/** Runs `work` but stops waiting for it after `ms` (a PDS that never answers). */
async function withTimeout(ms: number, work: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  try { await Promise.race([work(), expired]); } finally { clearTimeout(timer); }
}

export function rsvpActivities({ ds, redis, config }: { ds: DataSource; redis: Redis; config: Config }) {
  return {
    /**
     * One round of `bsky-rsvp:<event slug>/<user slug>`: makes the person's RSVP record match
     * their attendee row. The subject is the event's record: meetflow's own, or the one it was
     * ingested from. RSVPs that came from the network are never published back.
     */
    async publishRsvpRecord(input: { eventSlug: string; userId: string }): Promise<RsvpPublishResult> {
      const row = await rsvpToPublish(ds, input.eventSlug, input.userId);
      if (!row || row.event_status === 'deleting') return { state: 'gone' };
      if (!row.did || !row.bluesky_connected) return { state: 'skipped', reason: 'no Bluesky connection' };
      if (!row.subject_uri || !row.subject_cid) return { state: 'skipped', reason: 'the event has no Bluesky record' };
      if (row.source_id) return { state: 'skipped', reason: 'ingested from the network' };

      const agent = await agentFor(row.did, { ds, redis, config });
      const target = { repo: row.did, collection: RSVP_COLLECTION, rkey: rsvpRkey(row.subject_uri) };
      if (!row.attendee_id) {
        await agent.com.atproto.repo.deleteRecord(target);
        return { state: 'deleted' };
      }
      const written = await putOwnRecord(agent, target,
        (stored) => rsvpRecord({ uri: row.subject_uri!, cid: row.subject_cid! }, row.status, row.created_at, stored));
      await setRsvpRecord(ds, row.attendee_id, { ...written, rkey: target.rkey });
      return { state: 'published', ...written, status: row.status };
    },

    /**
     * Part of deleting an event: removes its attendees' RSVP records from their PDSes. Records of
     * people whose session is revoked are out of meetflow's reach: left, and counted. A PDS that
     * fails or does not answer within RECIPIENT_TIMEOUT_MS fails this attempt (Temporal retries
     * it with backoff, for the failed recipients only); after RECIPIENT_ATTEMPTS attempts its
     * records are left and named in the result, so one vanished PDS cannot hold a deletion that
     * is past its point of no return.
     */
    async deleteRsvpRecords(eventId: string): Promise<RsvpRecordsResult> {
      const rows = await rsvpRecordsOfEvent(ds, eventId);
      const result: RsvpRecordsResult = { deleted: 0, unreachable: 0, failed: 0, failedUris: [] };
      const failures: { uri: string; reason: string }[] = [];
      const lastAttempt = activityInfo().attempt >= RECIPIENT_ATTEMPTS;
      await runBounded(rows, RECIPIENT_CONCURRENCY, async (r) => {
        try {
          await withTimeout(RECIPIENT_TIMEOUT_MS, async () => {
            const agent = await agentFor(r.did, { ds, redis, config });
            await agent.com.atproto.repo.deleteRecord({ repo: r.did, collection: RSVP_COLLECTION, rkey: r.bluesky_rkey });
          });
          result.deleted++;
        } catch (err) {
          if (err instanceof SessionRevokedError) {
            log.warn('RSVP record left in place: its author revoked the session', { uri: r.bluesky_uri });
            result.unreachable++;
          } else if (lastAttempt) {
            log.warn('RSVP record left in place: its PDS kept failing', { uri: r.bluesky_uri, error: (err as Error).message });
            result.failed++;
            if (result.failedUris.length < 20) result.failedUris.push(r.bluesky_uri);
          } else {
            failures.push({ uri: r.bluesky_uri, reason: (err as Error).message });
            return; // kept for the next attempt
          }
        }
        await setRsvpRecord(ds, r.id, null);
      });
      if (failures.length) {
        throw ApplicationFailure.retryable(
          `${failures.length} RSVP record(s) could not be deleted yet, e.g. ${failures[0].uri}: ${failures[0].reason}`, FAILURE.rsvpRecordsPending);
      }
      return result;
    },
  };
}
