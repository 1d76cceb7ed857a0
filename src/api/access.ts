import type { DataSource, EntityManager } from 'typeorm';
import type { User } from '../db/entities/user.ts';
import { userById, type RsvpCaller } from '../db/users.ts';
import { activeGroupId, isGroupManager, isMember } from '../db/groups.ts';
import type { Event } from '../db/entities/event.ts';
import { eventBySlug } from '../db/events.ts';
import { liveSeries, type SeriesRow } from '../db/series.ts';
import { DomainError, notFound } from '../domain/errors.ts';
import type { Auth } from './auth.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The caller's user row; a token whose subject is no user is not a valid caller. */
export async function requireUser(ds: DataSource, auth: Auth): Promise<User> {
  const user = UUID.test(auth.sub) ? await userById(ds, auth.sub) : null;
  if (!user) throw unknownUser();
  return user;
}
const unknownUser = () => new DomainError('unauthorized', 'token subject is not a known user');

/**
 * Owner, an owner/admin of its group, or an admin may manage an event or a series. Inside a
 * transaction pass its manager: asking the pool for a second connection while holding one (and a
 * row lock) is how concurrent requests wedge the pool.
 */
export async function requireManager(q: DataSource | EntityManager, auth: Auth, thing: Pick<Event, 'ownerId' | 'groupId' | 'slug'>): Promise<void> {
  if (await isManager(q, auth, thing)) return;
  throw new DomainError('forbidden', `only the owner, a group admin or an admin may change ${thing.slug}`);
}

type Manageable = { ownerId: string | null; groupId: string | null };
export async function isManager(q: DataSource | EntityManager, auth: Auth, thing: Manageable): Promise<boolean> {
  if (auth.role === 'admin' || auth.sub === thing.ownerId) return true;
  return thing.groupId !== null && await isGroupManager(q, thing.groupId, auth.sub);
}

/** The id of the group a new event or series goes into; only its members may add to it. */
export async function groupForNewItem(ds: DataSource, user: User, groupSlug: string | undefined): Promise<string | null> {
  if (!groupSlug) return null;
  const groupId = await activeGroupId(ds, groupSlug);
  if (!groupId) throw notFound('group', groupSlug);
  if (!await isMember(ds, groupId, user.id)) throw new DomainError('forbidden', `only members of ${groupSlug} may add to it`);
  return groupId;
}

/** A live event (not tombstoned): deleting events have disappeared from reads. */
export async function findLiveEvent(q: DataSource | EntityManager, slug: string): Promise<Event> {
  const event = await eventBySlug(q, slug);
  if (!event || event.status === 'deleting') throw notFound('event', slug);
  return event;
}

/** A live event the caller may see: a draft only for its managers (for anyone else it does not exist). */
export async function findVisibleEvent(ds: DataSource, slug: string, auth: Auth): Promise<Event> {
  const event = await findLiveEvent(ds, slug);
  await hideDraft(ds, slug, auth, event);
  return event;
}

/** `not_found` when the event is a draft the caller does not manage; anything else passes (no event: status null). */
async function hideDraft(ds: DataSource, slug: string, auth: Auth, event: { status: string | null } & Manageable): Promise<void> {
  if (event.status === 'draft' && !await isManager(ds, auth, event)) throw notFound('event', slug);
}

/**
 * The caller of an RSVP as read (401 when the token's subject is not a known user) and, with
 * `withDraftHidden` (a sign-up), a draft hidden from anyone who does not manage it (the rest:
 * rsvp() decides).
 */
export async function rsvpAccess(ds: DataSource, auth: Auth, slug: string, caller: RsvpCaller | null, withDraftHidden: boolean): Promise<RsvpCaller> {
  if (!caller) throw unknownUser();
  if (withDraftHidden) await hideDraft(ds, slug, auth, { status: caller.eventStatus, ownerId: caller.ownerId, groupId: caller.groupId });
  return caller;
}

/** A token whose subject is not a user id at all is refused before any read (the reads cast it to uuid). */
export function requireUserId(auth: Auth): string {
  if (!UUID.test(auth.sub)) throw unknownUser();
  return auth.sub;
}

/** A live series, or `not_found`; `lock` takes its row lock. */
export async function loadSeries(q: DataSource | EntityManager, slug: string, lock = false): Promise<SeriesRow> {
  const row = await liveSeries(q, slug, lock);
  if (!row) throw notFound('series', slug);
  return row;
}

/** A live series the caller manages. */
export async function authorizeSeries(ds: DataSource, slug: string, auth: Auth): Promise<SeriesRow> {
  const s = await loadSeries(ds, slug);
  await requireManager(ds, auth, { ownerId: s.owner_id, groupId: s.group_id, slug });
  return s;
}
