import type { EntityManager } from 'typeorm';
import type { Config } from '../config.ts';
import type { RsvpResult } from '../domain/rsvp.ts';
import { isOnNetwork, rulePublishes } from '../db/event-records.ts';
import { templateOfSeries } from '../db/series.ts';

/**
 * What each change sets in motion: the one place these rules live. Each answers follow-ups for
 * the outbox (`outbox.ts`), recorded in the change's own transaction; nothing else starts or
 * signals a follow-up workflow.
 */
export type FollowUpType =
  | 'waitlist' | 'chat-room' | 'series' | 'bsky-publisher' | 'bsky-publish-series' | 'bsky-rsvp' | 'bsky-sync' | 'bsky-unpublish'
  /** Only rows recorded before `bsky-publisher` existed; nothing records new ones. */
  | 'bsky-publish';
/**
 * `slug` is the operation's entity key (`bsky-rsvp`: `<event slug>/<user slug>`; `bsky-sync`: the
 * DID; `bsky-publisher`: the owner's user id, with the event in `detail.eventSlug`).
 */
export interface FollowUp { type: FollowUpType; slug: string; detail?: { kind?: 'group'; userId?: string; eventSlug?: string } }

type ChatConfig = Pick<Config, 'CHAT_ENABLED'>;
interface EventLike { slug: string; ownerId: string; seriesSlug: string | null; sourceType: string | null; publishToBluesky: boolean | null; chatEnabled: boolean }


/**
 * Publishing follows an event when the publication rule says so (`publishes`, src/db/events.ts),
 * through its own publisher or its series' (which shows the next occurrence only). An event from
 * the network is never published back.
 */
export async function publishing(m: EntityManager, event: EventLike): Promise<FollowUp[]> {
  if (event.sourceType) return [];
  return await rulePublishes(m, event.ownerId, event.publishToBluesky) ? [publishNow(event)] : [];
}

/** The publisher of this event, asked to publish now (whatever the owner's preferences). */
export function publishNow(event: { slug: string; ownerId: string; seriesSlug: string | null }): FollowUp {
  return event.seriesSlug ? { type: 'bsky-publish-series', slug: event.seriesSlug }
    : { type: 'bsky-publisher', slug: event.ownerId, detail: { eventSlug: event.slug } };
}

/** A new event: its chat room (when chat is on) and its publication. */
export async function afterEventCreated(m: EntityManager, config: ChatConfig, event: EventLike): Promise<FollowUp[]> {
  const room: FollowUp[] = event.chatEnabled && config.CHAT_ENABLED ? [{ type: 'chat-room', slug: event.slug }] : [];
  return [...room, ...await publishing(m, event)];
}

/**
 * A changed event: a series template re-materializes its series; a capacity raised while people
 * wait (`seatsFreed`, src/db/events.ts) wakes the waitlist; a new name, description or chat flag
 * reaches the room; and the record follows.
 */
export async function afterEventChanged(
  m: EntityManager, config: ChatConfig, after: EventLike,
  change: { isTemplate: boolean; seatsFreed: boolean; roomChanged: boolean },
): Promise<FollowUp[]> {
  const out: FollowUp[] = [];
  if (change.isTemplate && after.seriesSlug) out.push({ type: 'series', slug: after.seriesSlug });
  if (change.seatsFreed) out.push({ type: 'waitlist', slug: after.slug });
  if (change.roomChanged && after.chatEnabled && config.CHAT_ENABLED) out.push({ type: 'chat-room', slug: after.slug });
  return [...out, ...await publishing(m, after)];
}

/**
 * A created or changed series: its materializer, the publication of its next occurrence, and the
 * waitlist of its template if a raised capacity freed seats there (`seatsFreed`).
 */
export async function afterSeriesChanged(m: EntityManager, seriesSlug: string, seatsFreed: string[] = []): Promise<FollowUp[]> {
  return [{ type: 'series', slug: seriesSlug }, ...await afterOccurrencesChanged(m, seriesSlug, seatsFreed)];
}

/**
 * Occurrences changed: the series' publisher looks at its next one again, if the owner publishes,
 * and occurrences whose capacity rose (`seatsFreed`) promote from their waitlists.
 */
export async function afterOccurrencesChanged(m: EntityManager, seriesSlug: string, seatsFreed: string[] = []): Promise<FollowUp[]> {
  const template = await templateOfSeries(m, seriesSlug);
  const waitlists = seatsFreed.map((slug): FollowUp => ({ type: 'waitlist', slug }));
  return [...waitlists, ...template ? await publishing(m, template) : []];
}

/** A new group: its chat room, when chat is on. */
export function afterGroupCreated(config: ChatConfig, group: { slug: string; chatEnabled: boolean }): FollowUp[] {
  return group.chatEnabled && config.CHAT_ENABLED ? [{ type: 'chat-room', slug: group.slug, detail: { kind: 'group' } }] : [];
}

/** A deletion undone before it purged the event's room: the room opens again and is synced. */
export function afterRoomReopened(config: ChatConfig, eventSlug: string): FollowUp[] {
  return config.CHAT_ENABLED ? [{ type: 'chat-room', slug: eventSlug }] : [];
}

/**
 * An event's roles changed: a new or larger role may take people from its waitlist, and a series
 * template's roles go to its unmodified occurrences (its materializer).
 */
export function afterRolesChanged(event: { slug: string; seriesSlug: string | null }, change: { seatsMayBeFree: boolean; isTemplate: boolean }): FollowUp[] {
  return [
    ...change.seatsMayBeFree ? [{ type: 'waitlist' as const, slug: event.slug }] : [],
    ...change.isTemplate && event.seriesSlug ? [{ type: 'series' as const, slug: event.seriesSlug }] : [],
  ];
}

/** A membership change: the group's room follows who is in the group, and in which role. */
export function afterMembershipChanged(config: ChatConfig, group: { slug: string; chatEnabled: boolean }): FollowUp[] {
  return afterGroupCreated(config, group);
}

/**
 * An RSVP change: a change of attendance reaches the chat room (the person promoted into a freed
 * seat with it: the change itself promoted them, src/domain/rsvp.ts); and a publishing Bluesky
 * user's RSVP record follows a change, when the event is on the network. (A promotion needs no
 * record change: both are `going`.)
 */
export async function afterRsvp(
  m: EntityManager, config: ChatConfig, eventSlug: string, result: RsvpResult,
  user?: { id: string; slug: string; blueskyConnected: boolean; blueskyAutoPublish: boolean },
): Promise<FollowUp[]> {
  const out: FollowUp[] = [];
  if (result.changed && result.chatEnabled && config.CHAT_ENABLED) out.push({ type: 'chat-room', slug: eventSlug });
  if (result.changed && user && publishesRsvps(user)) {
    if (await isOnNetwork(m, eventSlug)) out.push(rsvpRecord(eventSlug, user));
  }
  return out;
}

/**
 * An RSVP outcome that may be written on its own, for a person whose RSVPs publish no record
 * (`publishesRsvps`): no seat freed (its promotion is written in the same transaction), and
 * nothing for `afterRsvp` to record (no change reaching a chat room while chat is on).
 * `meetflow_rsvp` checks the same before it writes a quiet RSVP (src/domain/rsvp.ts
 * `rsvpIfQuiet`); test/unit/follow-up-rules.test.ts holds it against `afterRsvp`.
 */
export const quietOutcome = (r: Pick<RsvpResult, 'seatFreed' | 'changed' | 'chatEnabled'>, chatOn: boolean): boolean =>
  !r.seatFreed && !(r.changed && r.chatEnabled && chatOn);

/**
 * Whether this person's RSVPs are published as records (then every change has a follow-up).
 * `callerWithQuietRsvp` (src/db/attendees.ts) says the same in SQL.
 */
export const publishesRsvps = (user: { blueskyConnected: boolean; blueskyAutoPublish: boolean }): boolean =>
  user.blueskyConnected && user.blueskyAutoPublish;

/** The user's RSVP record for this event is made to match their attendance. */
export function rsvpRecord(eventSlug: string, user: { id: string; slug: string }): FollowUp {
  return { type: 'bsky-rsvp', slug: `${eventSlug}/${user.slug}`, detail: { userId: user.id } };
}

/** Auto-publish turned on by a connected user: their sync publishes what is missing. */
export function afterPreferencesChanged(before: { blueskyAutoPublish: boolean }, after: { did: string | null; blueskyConnected: boolean; blueskyAutoPublish: boolean }): FollowUp[] {
  return after.did && after.blueskyConnected && after.blueskyAutoPublish && !before.blueskyAutoPublish ? [{ type: 'bsky-sync', slug: after.did }] : [];
}

/** A disconnection that asked for meetflow's records to be taken off the network: `bsky-unpublish:<did>`. */
export function afterDisconnect(did: string, deleteRecords: boolean): FollowUp[] {
  return deleteRecords ? [{ type: 'bsky-unpublish', slug: did }] : [];
}

/** A claimed account: its rooms' memberships, the seats it freed, and its records (sync). */
export function afterClaim(config: ChatConfig, c: { did: string; rooms: { kind: 'event' | 'group'; slug: string }[]; freedSeats: string[] }): FollowUp[] {
  const rooms: FollowUp[] = config.CHAT_ENABLED
    ? c.rooms.map((r) => ({ type: 'chat-room', slug: r.slug, ...(r.kind === 'group' ? { detail: { kind: 'group' as const } } : {}) }))
    : [];
  return [...rooms, ...c.freedSeats.map((slug): FollowUp => ({ type: 'waitlist', slug })), { type: 'bsky-sync', slug: c.did }];
}
