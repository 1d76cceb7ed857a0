import { log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import { promoteFromWaitlist } from '../domain/rsvp.ts';

export function attendeeActivities({ ds, config }: { ds: DataSource; config: Pick<Config, 'CHAT_ENABLED'> }) {
  return {
    /**
     * Confirms waitlisted people into free seats, in waitlist order; safe to retry. `chatRoom`:
     * whether the event has a room the promoted people join (absent in runs recorded before it).
     */
    async promoteWaitlist(eventSlug: string): Promise<{ eventGone: boolean; promotedUserIds: string[]; chatRoom?: boolean }> {
      const outcome = await promoteFromWaitlist(ds, eventSlug);
      if (outcome === null) return { eventGone: true, promotedUserIds: [] };
      if (outcome.promoted.length) log.info('promoted from waitlist', { eventSlug, count: outcome.promoted.length });
      return { eventGone: false, promotedUserIds: outcome.promoted.map((p) => p.userId), chatRoom: config.CHAT_ENABLED && outcome.chatEnabled };
    },
  };
}
