import type { DataSource, EntityManager } from 'typeorm';
import type { Event } from '../db/entities/event.ts';
import type { User } from '../db/entities/user.ts';
import { groupSlugs } from '../db/groups.ts';
import { attendeeCounts, roleCounts, type AttendeeCounts, type RoleCounts } from '../db/attendee-tallies.ts';
import type { RsvpResult } from '../domain/rsvp.ts';
import type { FollowUpOperation } from '../follow-ups/outbox.ts';

// The JSON the API answers for rows that more than one route file returns (shapes in schemas.ts).

export async function toEventJsons(ds: DataSource | EntityManager, events: Event[]) {
  const counts = await attendeeCounts(ds, events.map((e) => e.id));
  const roles = await roleCounts(ds, events.map((e) => e.id));
  const groupIds = [...new Set(events.map((e) => e.groupId).filter((g): g is string => !!g))];
  const groups = groupIds.length
    ? await groupSlugs(ds, groupIds)
    : new Map<string, string>();
  return events.map((e) => eventJson(e, counts.get(e.id) as AttendeeCounts, roles.get(e.id) ?? [], e.groupId ? groups.get(e.groupId) ?? null : null));
}

/** A new event's answer, read from nothing: nobody has registered, it declares no roles. */
export const newEventJson = (e: Event, groupSlug: string | null) => eventJson(e, { confirmed: 0, waitlisted: 0, maybe: 0 }, [], groupSlug);

function eventJson(e: Event, attendeeCounts: AttendeeCounts, roles: RoleCounts[], groupSlug: string | null) {
  return {
    slug: e.slug, name: e.name, description: e.description,
    startAt: e.startAt.toISOString(), endAt: e.endAt.toISOString(), timeZone: e.timeZone,
    status: e.status as 'draft' | 'published' | 'cancelled', ownerId: e.ownerId,
    groupSlug, seriesSlug: e.seriesSlug,
    capacity: e.capacity, chatEnabled: e.chatEnabled, publishToBluesky: e.publishToBluesky,
    location: e.location, country: e.country, onlineUrl: e.onlineUrl,
    attendeeCounts, roles,
    bluesky: e.blueskyUri ? { uri: e.blueskyUri, cid: e.blueskyCid } : null,
  };
}

export const toUserJson = (u: User) => ({
  id: u.id, slug: u.slug, displayName: u.displayName, handle: u.handle, did: u.did, avatarUrl: u.avatarUrl,
  isShadowAccount: u.isShadowAccount, createdAt: u.createdAt.toISOString(),
});


/** The answer to a change of someone's registration, whoever made it. */
export const rsvpAnswer = (r: RsvpResult, operations: FollowUpOperation[]) =>
  ({ status: r.status, role: r.role, ...(r.waitlistPosition ? { waitlistPosition: r.waitlistPosition } : {}), operations });

