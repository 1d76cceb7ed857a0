import { heartbeat } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../../domain/lexicon.ts';
import { agentFor, forgetSession } from '../../bluesky/sessions.ts';
import { setRsvpRecord } from '../../db/rsvp-records.ts';
import { clearEventRecord } from '../../db/event-records.ts';
import { publishedRecordsOf } from '../../db/users.ts';

/**
 * Taking a user's publications back off the network when they disconnect and ask for it
 * (`bsky-unpublish:<did>`): meetflow's records in their repo are deleted, then the session goes.
 */
export function unpublishActivities({ ds, redis, config }: { ds: DataSource; redis: Redis; config: Config }) {
  return {
    /**
     * Deletes up to `limit` of meetflow's records in the user's repo (their events' records, then
     * their RSVP records) and forgets each on its row; `done` once none is left. Deleting a record
     * that is already gone succeeds, so a retry after a crash repeats nothing harmful.
     */
    async unpublishRecords(input: { did: string; limit: number }): Promise<{ deleted: number; done: boolean }> {
      const rows = await publishedRecordsOf(ds, input.did, input.limit);
      if (!rows.length) return { deleted: 0, done: true };
      const agent = await agentFor(input.did, { ds, redis, config });
      for (const [i, r] of rows.entries()) {
        const collection = r.kind === 'events' ? EVENT_COLLECTION : RSVP_COLLECTION;
        await agent.com.atproto.repo.deleteRecord({ repo: input.did, collection, rkey: r.rkey });
        await (r.kind === 'events' ? clearEventRecord(ds, r.id) : setRsvpRecord(ds, r.id, null));
        heartbeat(i + 1);
      }
      return { deleted: rows.length, done: rows.length < input.limit };
    },

    /** Revokes the user's session where the PDS answers, and forgets it (see `forgetSession`). */
    async forgetBlueskySession(did: string): Promise<{ revoked: boolean }> {
      return forgetSession(did, { redis, config });
    },
  };
}
