import { describe, expect, it } from 'vitest';
import type { EntityManager } from 'typeorm';
import { afterRsvp, quietOutcome } from '../../src/follow-ups/rules.ts';

// An RSVP that `meetflow_rsvp` writes without a transaction (quiet) must be one after which the
// rules set nothing in motion (a follow-up the rules would add there would be lost) and that frees
// no seat (the promotion into it is written in the RSVP's transaction).
describe('quiet RSVP outcomes', () => {
  it('are exactly those that free no seat and after which afterRsvp records nothing, for someone who publishes no RSVP records', async () => {
    const noDatabase = {} as EntityManager; // the rules read nothing for such a person
    const user = { id: 'u', slug: 'u', blueskyConnected: true, blueskyAutoPublish: false };
    for (const seatFreed of [false, true]) for (const changed of [false, true]) for (const chatEnabled of [false, true]) for (const chatOn of [false, true]) {
      if (seatFreed && !changed) continue; // a freed seat is a change
      const result = { status: 'confirmed' as const, role: null, seatFreed, changed, chatEnabled };
      const followUps = await afterRsvp(noDatabase, { CHAT_ENABLED: chatOn }, 'party', result, user);
      expect({ seatFreed, changed, chatEnabled, chatOn, quiet: quietOutcome(result, chatOn) })
        .toEqual({ seatFreed, changed, chatEnabled, chatOn, quiet: !seatFreed && followUps.length === 0 });
    }
  });
});
