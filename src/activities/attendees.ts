import { log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import { promoteFromWaitlist } from '../domain/rsvp.ts';

export function attendeeActivities({ ds }: { ds: DataSource }) {
  return {
    /** Confirms waitlisted people into free seats, in waitlist order; safe to retry. */
    async promoteWaitlist(eventSlug: string): Promise<{ eventGone: boolean; promotedUserIds: string[] }> {
      const promoted = await promoteFromWaitlist(ds, eventSlug);
      if (promoted === null) return { eventGone: true, promotedUserIds: [] };
      if (promoted.length) log.info('promoted from waitlist', { eventSlug, count: promoted.length });
      return { eventGone: false, promotedUserIds: promoted.map((p) => p.userId) };
    },
  };
}
