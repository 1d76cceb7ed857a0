import { ApplicationFailure, heartbeat, log } from '@temporalio/activity';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config.ts';
import type { FollowUpRelay } from '../follow-ups/outbox.ts';
import { afterClaim } from '../follow-ups/rules.ts';
import {
  claimMoves, deleteShadow, dropJournal, journalCounts, journalEntries, lockShadow, releaseShadow, roomsTouched, takeDid, undoClaimEntry,
} from '../db/account-claims.ts';
import { FAILURE } from '../temporal/failures.ts';
import type { ClaimInput } from '../temporal/contracts.ts';


/** SQLSTATEs that fail the same way on every retry: a check or not-null constraint, bad data. */
const isPermanent = (err: unknown) => /^(23514|23502|22)/.test((err as { code?: string }).code ?? '');

export function claimActivities({ ds, config, followUps }: { ds: DataSource; config: Config; followUps: FollowUpRelay }) {
  /** One step: one transaction, heartbeating while it waits on locks, a deterministic failure made final. */
  async function step<T>(c: ClaimInput, name: string, fn: (m: EntityManager) => Promise<T>): Promise<T> {
    const beat = setInterval(() => heartbeat(name), 1000);
    try {
      return await ds.transaction(async (m) => {
        if (!await lockShadow(m, c.shadowId, true)) throw ApplicationFailure.create({ type: FAILURE.claimStepRejected, nonRetryable: true, message: `${c.did}: the shadow account is gone` });
        return fn(m);
      });
    } catch (err) {
      if (isPermanent(err)) {
        throw ApplicationFailure.create({ type: FAILURE.claimStepRejected, nonRetryable: true, message: `${name}: ${(err as Error).message}`, cause: err as Error });
      }
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  return {
    claimOwnership: (c: ClaimInput) => step(c, 'transfer ownership', (m) => claimMoves.ownership(m, c)),
    /** Answers the events whose seat was freed (two confirmed RSVPs became one). */
    claimAttendees: (c: ClaimInput) => step(c, 'move RSVPs', async (m) => {
      const { freed, merges } = await claimMoves.attendees(m, c);
      for (const merge of merges) log.info('RSVPs merged in a claim', merge);
      return freed;
    }),
    claimMemberships: (c: ClaimInput) => step(c, 'move group memberships', (m) => claimMoves.memberships(m, c)),
    claimProfile: (c: ClaimInput) => step(c, 'merge profile', (m) => claimMoves.profile(m, c)),

    /** Undoes every journalled change of this claim, newest first, in one transaction. */
    async compensateClaim(c: ClaimInput): Promise<number> {
      return ds.transaction(async (m) => {
        const entries = await journalEntries(m, c.did);
        for (const e of entries) await undoClaimEntry(m, c, e.kind, e.before);
        await dropJournal(m, c.did);
        await releaseShadow(m, c.shadowId);
        log.warn('account claim undone', { did: c.did, entries: entries.length });
        return entries.length;
      });
    },

    /**
     * The point of no return, in one transaction: a last sweep moves anything that reached the
     * shadow account during the claim, the shadow account is deleted, the user takes its DID,
     * and the journal goes. Answers the counts and the chat rooms whose membership changed.
     */
    async finishClaim(c: ClaimInput) {
      return ds.transaction(async (m) => {
        if (await lockShadow(m, c.shadowId, false)) {
          await claimMoves.ownership(m, c);
          await claimMoves.attendees(m, c);
          await claimMoves.memberships(m, c);
          await deleteShadow(m, c.shadowId);
        }
        await takeDid(m, c);
        const counts = await journalCounts(m, c.did);
        const rooms = await roomsTouched(m, c.did);
        await dropJournal(m, c.did);
        return { counts, rooms };
      });
    },

    /**
     * Rooms follow the rows (their workflows reconcile membership); merged confirmations may have
     * freed seats; and the user's sync runs now that the DID is theirs.
     */
    async afterClaim(input: { did: string; rooms: { kind: 'event' | 'group'; slug: string }[]; freedSeats: string[] }): Promise<void> {
      await followUps.now(afterClaim(config, input));
    },
  };
}
