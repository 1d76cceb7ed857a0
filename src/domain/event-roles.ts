import type { EntityManager } from 'typeorm';
import { DomainError, notFound } from './errors.ts';

export interface RoleSpec { name: string; capacity: number | null }

/**
 * Replaces the roles an event declares, under its row lock (so no RSVP decides a seat meanwhile).
 * Capacity is then per role: the event's own capacity must be unset (422 `capacity_per_role`). A
 * role that people are registered in cannot go (409 `role_in_use`; move them first). Registrations
 * made before the event had roles join its first role; with no roles left, the event counts seats
 * as one again. Lowering a capacity never un-confirms anyone. Answers whether any seat may have
 * become free (a waitlist to promote).
 */
export async function declareRoles(m: EntityManager, eventSlug: string, roles: RoleSpec[]): Promise<{ seatsMayBeFree: boolean }> {
  const [event] = await m.query(`SELECT id, capacity, status FROM events WHERE slug = $1 FOR UPDATE`, [eventSlug]);
  if (!event || event.status === 'deleting') throw notFound('event', eventSlug);
  if (roles.length && event.capacity !== null) {
    throw new DomainError('capacity_per_role', `event ${eventSlug} has a capacity of its own: unset it, roles carry their capacities`);
  }
  const names = roles.map((r) => r.name);
  if (new Set(names).size !== names.length) throw new DomainError('validation_failed', 'role names must differ', { roles: names });
  const [inUse] = await m.query(
    `SELECT registration_role AS name FROM attendees WHERE event_id = $1 AND status <> 'cancelled'
        AND registration_role IS NOT NULL AND NOT registration_role = ANY($2::text[]) LIMIT 1`, [event.id, names]);
  if (inUse) throw new DomainError('role_in_use', `people are registered as ${inUse.name}: move them first`, { role: inUse.name });

  const [{ raised }] = await m.query(
    `WITH old AS (SELECT name, capacity FROM event_roles WHERE event_id = $1),
          upserted AS (
            INSERT INTO event_roles (event_id, name, capacity, position)
            SELECT $1, r.name, r.capacity, r.position FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS r(name, capacity, position)
            ON CONFLICT (event_id, name) DO UPDATE SET capacity = EXCLUDED.capacity, position = EXCLUDED.position RETURNING name, capacity)
     SELECT EXISTS (SELECT 1 FROM upserted u LEFT JOIN old o ON o.name = u.name
                     WHERE o.name IS NULL OR u.capacity IS NULL OR (o.capacity IS NOT NULL AND u.capacity > o.capacity)) AS raised`,
    [event.id, names, roles.map((r) => r.capacity)]);
  // Registrations made before roles existed, and cancelled ones of a role that goes, join the first role.
  await m.query(
    `UPDATE attendees SET registration_role = $2 WHERE event_id = $1
        AND (registration_role IS NULL OR NOT registration_role = ANY($3::text[]))
        AND registration_role IS DISTINCT FROM $2`, [event.id, names[0] ?? null, names]);
  await m.query(`DELETE FROM event_roles WHERE event_id = $1 AND NOT name = ANY($2::text[])`, [event.id, names]);
  return { seatsMayBeFree: raised || !roles.length };
}
