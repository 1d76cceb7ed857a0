import type { EntityManager } from 'typeorm';
import { withWaitlist } from '../db/attendee-tallies.ts';
import { assignRoleOutside, roleInUseOutside } from '../db/attendees.ts';
import { lockEvent, updateEventById } from '../db/events.ts';
import { dropRolesExcept, eventRoles, rolesDifferingFrom, upsertRoles, type Occurrence, type Role } from '../db/event-roles.ts';
import { upsertException } from '../db/series.ts';
import { DomainError, notFound } from './errors.ts';

export type RoleSpec = Role;

/**
 * Replaces the roles an event declares, under its row lock (so no RSVP decides a seat meanwhile).
 * Capacity is then per role: the event's own capacity must be unset (422 `capacity_per_role`). A
 * role that people are registered in cannot go (409 `role_in_use`; move them first). Registrations
 * made before the event had roles join its first role; with no roles left, the event counts seats
 * as one again. Lowering a capacity never un-confirms anyone. Answers whether any seat may have
 * become free (a waitlist to promote).
 */
export async function declareRoles(m: EntityManager, eventSlug: string, roles: RoleSpec[]): Promise<{ seatsMayBeFree: boolean }> {
  const event = await lockEvent(m, eventSlug);
  if (!event || event.status === 'deleting') throw notFound('event', eventSlug);
  if (roles.length && event.capacity !== null) {
    throw new DomainError('capacity_per_role', `event ${eventSlug} has a capacity of its own: unset it, roles carry their capacities`);
  }
  const names = roles.map((r) => r.name);
  if (new Set(names).size !== names.length) throw new DomainError('validation_failed', 'role names must differ', { roles: names });
  const inUse = await roleInUseOutside(m, event.id, names);
  if (inUse) throw new DomainError('role_in_use', `people are registered as ${inUse}: move them first`, { role: inUse });

  const raised = await upsertRoles(m, event.id, roles);
  await assignRoleOutside(m, event.id, names[0] ?? null, names);
  await dropRolesExcept(m, event.id, names);
  return { seatsMayBeFree: raised || !roles.length };
}

/**
 * Unmodified occurrences take their template's roles, each declared as `declareRoles` would (the
 * materializer's transaction, under the series' lock). One that cannot take them (people are
 * registered in a role the template dropped) keeps its roles and becomes an exception, without a
 * capacity of its own (its roles' apply): the template no longer describes it. Answers the slugs
 * that changed, and those where seats may be free with people waiting.
 */
export async function followTemplateRoles(m: EntityManager, templateId: string, eventIds: string[]): Promise<{ changed: string[]; seatsFreed: string[] }> {
  const differing = await rolesDifferingFrom(m, templateId, eventIds);
  if (!differing.length) return { changed: [], seatsFreed: [] };
  const roles = await eventRoles(m, templateId);
  const changed: Occurrence[] = [];
  const mayBeFree: string[] = [];
  for (const e of differing) {
    try {
      if ((await declareRoles(m, e.slug, roles)).seatsMayBeFree) mayBeFree.push(e.id);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'not_found') continue; // being deleted meanwhile
      if (!(err instanceof DomainError && err.code === 'role_in_use')) throw err;
      await keepOwnRoles(m, e, err.message);
    }
    changed.push(e);
  }
  const waiting = await withWaitlist(m, mayBeFree);
  return { changed: changed.map((e) => e.slug), seatsFreed: changed.filter((e) => waiting.has(e.id)).map((e) => e.slug) };
}

async function keepOwnRoles(m: EntityManager, e: Occurrence, reason: string): Promise<void> {
  await updateEventById(m, e.id, { capacity: null });
  await upsertException(m, { seriesSlug: e.series_slug, originalStart: e.original_start, kind: 'modified', eventId: e.id, overrides: { roles: `kept: ${reason}` } });
}
