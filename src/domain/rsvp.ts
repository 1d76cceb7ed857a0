import type { DataSource, EntityManager } from 'typeorm';
import {
  callerWithQuietRsvp, decideRsvp, lockEventSeats, promoteWaitlisted, registrationOf, setRegistrationRole,
  waitlistPosition, type RsvpOutcome, type RsvpRefusal, type SeatedEvent,
} from '../db/attendees.ts';
import { seatsHeld } from '../db/attendee-tallies.ts';
import { lockEvent } from '../db/events.ts';
import type { AttendeeStatus } from '../db/entities/attendee.ts';
import type { RsvpCaller } from '../db/users.ts';
import { DomainError, notFound } from './errors.ts';

/** What the caller says (api.md / AT Protocol), mapped to the attendee status it becomes. */
export type RsvpIntent = 'going' | 'interested' | 'notgoing';

export interface RsvpResult {
  status: AttendeeStatus;
  /** The registration's role, on an event that declares roles. */
  role: string | null;
  waitlistPosition?: number;
  /** A confirmed seat was given up (and given to the next waiting person, in the same transaction). */
  seatFreed: boolean;
  changed: boolean;
  /** The event has a chat room whose membership follows confirmations. */
  chatEnabled: boolean;
}

/** What a registration may say besides its status (an event with roles: which one; notes for the organizers). */
export interface Registration { role?: string; notes?: string | null; specialRequirements?: string | null }

/** Where seats are counted: a role, or (name null) the whole event. */
interface Bucket { name: string | null; capacity: number | null }

/** Locks the event row; every change of confirmed seats for an event goes through this lock. */
async function lockForSeats(m: EntityManager, slug: string): Promise<SeatedEvent> {
  const event = await lockEventSeats(m, slug);
  if (!event) throw notFound('event', slug);
  if (event.status === 'deleting') {
    throw new DomainError('event_deleting', `event ${slug} is being deleted and takes no RSVPs`);
  }
  return event;
}

/**
 * The seat bucket a registration goes into: its role (the asked one, else the one it has, else
 * the first declared), with that role's capacity; on an event without roles, the event itself.
 */
function bucketFor(event: SeatedEvent, eventSlug: string, asked: string | undefined, current: string | null): Bucket {
  const { roles } = event;
  if (!roles.length) {
    if (asked) throw new DomainError('unknown_role', `event ${eventSlug} declares no roles`, { role: asked });
    return { name: null, capacity: event.capacity };
  }
  const wanted = asked ?? current ?? roles[0].name;
  const role = roles.find((r) => r.name === wanted);
  if (!role) throw new DomainError('unknown_role', `event ${eventSlug} has no role ${wanted}`, { role: wanted, roles: roles.map((r) => r.name) });
  return role;
}

/** Is there a free seat in the bucket for someone who holds none in it (people already waiting there keep their place)? */
async function seatFree(m: EntityManager, eventId: string, bucket: Bucket): Promise<boolean> {
  return bucket.capacity === null || await seatsHeld(m, eventId, bucket.name) < bucket.capacity;
}

/**
 * Records one person's RSVP atomically. `going` confirms only while confirmed + waitlisted is
 * below capacity (people already waiting keep their place), otherwise waitlists; repeating an
 * RSVP changes nothing. On an event with roles, capacity and waitlist are the role's; a `going`
 * for another role moves the registration (to the back of that role's waitlist if it is full).
 * Arrival order is the order in which requests take the event lock, and `clock_timestamp()` (not
 * the transaction's start time) records it. Decided and written in Postgres in one statement
 * (`decideRsvp`), so the lock is held for the decision only; a seat given up goes to the next
 * waiting person (`promoteIntoFreedSeat`), and what the change sets in motion (`andThen`) is
 * recorded, in the same transaction.
 */
export async function rsvp(
  ds: DataSource, eventSlug: string, userId: string, intent: RsvpIntent,
  /** Runs inside the transaction, before it commits: what the change sets in motion is recorded with it. */
  andThen?: (m: EntityManager, result: RsvpResult) => Promise<void>,
  registration: Registration = {},
): Promise<RsvpResult> {
  return ds.transaction(async (m) => {
    // Null only for a quiet call (`rsvpIfQuiet`): never here.
    const result = resultOf(eventSlug, await decideRsvp(m, { slug: eventSlug, userId, intent, ...registration }))!;
    // The lock `decideRsvp` took is held until commit: the row is there.
    if (result.seatFreed) await promoteIntoFreedSeat(m, (await lockEvent(m, eventSlug))!);
    await andThen?.(m, result);
    return result;
  });
}

/**
 * Who RSVPs (`caller`, null: no such user) and, in the same statement, the same RSVP with no
 * transaction around it (the lock is held inside Postgres only) if its outcome sets nothing in
 * motion (`quietOutcome` in src/follow-ups/rules.ts: no seat freed; no change reaching a chat room
 * while chat is on): `result`. Else `result` is null and nothing is written, and the caller records
 * it with `rsvp` and its follow-ups (see `callerWithQuietRsvp` for the cases not tried at all).
 */
export async function rsvpIfQuiet(
  ds: DataSource, eventSlug: string, userId: string, intent: RsvpIntent, registration: Registration, opts: { chatOn: boolean; hideDraft: boolean },
): Promise<{ caller: RsvpCaller | null; result: RsvpResult | null }> {
  const { caller, outcome } = await callerWithQuietRsvp(ds, { slug: eventSlug, userId, intent, ...registration }, opts);
  return { caller, result: caller && outcome ? resultOf(eventSlug, outcome) : null };
}

function resultOf(eventSlug: string, outcome: RsvpOutcome): RsvpResult | null {
  if (outcome.error === 'not_quiet') return null;
  if (outcome.error !== undefined) throw refusal(eventSlug, outcome);
  const { status, role, changed, chatEnabled, seatFreed, waitlistPosition } = outcome;
  return { status, role, changed, chatEnabled, seatFreed, ...(waitlistPosition ? { waitlistPosition } : {}) };
}

/** Why `meetflow_rsvp` refused (it wrote nothing), as the domain's error. */
function refusal(eventSlug: string, o: RsvpRefusal): DomainError {
  switch (o.error) {
    case 'not_found': return notFound('event', eventSlug);
    case 'event_deleting': return new DomainError('event_deleting', `event ${eventSlug} is being deleted and takes no RSVPs`);
    // A draft or cancelled event takes no sign-ups; giving one up is always possible.
    case 'event_not_open': return new DomainError('event_not_open', `event ${eventSlug} is ${o.status} and takes no RSVPs`, { status: o.status });
    case 'unknown_role': return o.roles
      ? new DomainError('unknown_role', `event ${eventSlug} has no role ${o.role}`, { role: o.role, roles: o.roles })
      : new DomainError('unknown_role', `event ${eventSlug} declares no roles`, { role: o.role });
  }
}

/**
 * An organizer moves a registration to another role, atomically under the event lock: a
 * confirmed person moves only into a free seat (409 `role_full`: nobody is pushed back onto a
 * waitlist by someone else), a waiting one joins the back of the new role's waitlist or takes its
 * free seat. The seat given up in the old role goes to the first of that role's waitlist.
 */
export async function moveToRole(
  ds: DataSource, eventSlug: string, userId: string, role: string,
  andThen?: (m: EntityManager, result: RsvpResult) => Promise<void>,
): Promise<RsvpResult> {
  return ds.transaction(async (m) => {
    const event = await lockForSeats(m, eventSlug);
    const existing = await registrationOf(m, event.id, userId);
    if (!existing || existing.status === 'cancelled') throw new DomainError('not_found', `this person is not registered for ${eventSlug}`);
    const bucket = bucketFor(event, eventSlug, role, existing.registration_role);
    if (bucket.name === existing.registration_role) {
      return { status: existing.status, role: bucket.name, changed: false, seatFreed: false, chatEnabled: event.chat_enabled };
    }
    const free = existing.status === 'maybe' || await seatFree(m, event.id, bucket); // another role than theirs
    if (existing.status === 'confirmed' && !free) throw new DomainError('role_full', `role ${role} of ${eventSlug} has no free seat`, { role });
    const next: AttendeeStatus = existing.status === 'maybe' ? 'maybe' : free ? 'confirmed' : 'waitlisted';
    await setRegistrationRole(m, event.id, userId, bucket.name, next);
    if (existing.status === 'confirmed') await promoteIntoFreedSeat(m, event);
    const result: RsvpResult = { status: next, role: bucket.name, changed: true, seatFreed: existing.status === 'confirmed', chatEnabled: event.chat_enabled };
    if (next === 'waitlisted') result.waitlistPosition = await waitlistPosition(m, event.id, userId);
    await andThen?.(m, result);
    return result;
  });
}

/**
 * The seat one person gave up goes to the next waiting person of its role (or of the event) in
 * the change's own transaction, under the event lock it holds: nobody sees the seat free while
 * people wait, and the work is bounded (at most one person per role). Changes that may free many
 * seats at once (a raised capacity, new roles, a claim) promote through `waitlist:<slug>`
 * (`promoteFromWaitlist`).
 */
async function promoteIntoFreedSeat(m: EntityManager, event: { id: string; capacity: number | null }): Promise<void> {
  await promoteWaitlisted(m, event.id, event.capacity, 1);
}

export interface Promotion { attendeeId: string; userId: string }

/**
 * Confirms waitlisted people, earliest first, while there are free seats: per role on an event
 * that declares roles, else for the event. Idempotent: it derives everything from the rows under
 * the event lock, so a retry never over-fills. Returns null when the event is gone or being
 * deleted (nothing left to promote).
 */
export async function promoteFromWaitlist(ds: DataSource, eventSlug: string): Promise<{ promoted: Promotion[]; chatEnabled: boolean } | null> {
  return ds.transaction(async (m) => {
    const event = await lockEvent(m, eventSlug);
    if (!event || event.status === 'deleting') return null;
    const rows = await promoteWaitlisted(m, event.id, event.capacity);
    return { promoted: rows.map((r) => ({ attendeeId: String(r.id), userId: r.user_id })), chatEnabled: event.chat_enabled };
  });
}
