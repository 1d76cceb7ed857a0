import type { DataSource, EntityManager } from 'typeorm';

/** The `event_roles` table: the roles an event declares, each with its capacity, in order. */
type Q = DataSource | EntityManager;

export interface Role { name: string; capacity: number | null }

export const eventRoles = (q: Q, eventId: string): Promise<Role[]> =>
  q.query(`SELECT name, capacity FROM event_roles WHERE event_id = $1 ORDER BY position`, [eventId]);

/**
 * Upserts `roles` in this order (the ones not named stay until `dropRolesExcept`); answers whether
 * a seat may have become free: a new role, an unlimited one, or a raised capacity.
 */
export async function upsertRoles(m: EntityManager, eventId: string, roles: Role[]): Promise<boolean> {
  const [{ raised }] = await m.query(
    `WITH old AS (SELECT name, capacity FROM event_roles WHERE event_id = $1),
          upserted AS (
            INSERT INTO event_roles (event_id, name, capacity, position)
            SELECT $1, r.name, r.capacity, r.position FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS r(name, capacity, position)
            ON CONFLICT (event_id, name) DO UPDATE SET capacity = EXCLUDED.capacity, position = EXCLUDED.position RETURNING name, capacity)
     SELECT EXISTS (SELECT 1 FROM upserted u LEFT JOIN old o ON o.name = u.name
                     WHERE o.name IS NULL OR u.capacity IS NULL OR (o.capacity IS NOT NULL AND u.capacity > o.capacity)) AS raised`,
    [eventId, roles.map((r) => r.name), roles.map((r) => r.capacity)]);
  return raised;
}

export async function dropRolesExcept(m: EntityManager, eventId: string, names: string[]): Promise<void> {
  await m.query(`DELETE FROM event_roles WHERE event_id = $1 AND NOT name = ANY($2::text[])`, [eventId, names]);
}

/** Gives events without roles (new occurrences) the roles of `fromEventId` (their template). */
export async function copyRoles(m: EntityManager, fromEventId: string, toEventIds: string[]): Promise<void> {
  if (!toEventIds.length) return;
  await m.query(
    `INSERT INTO event_roles (event_id, name, capacity, position)
     SELECT e.id, r.name, r.capacity, r.position FROM unnest($2::uuid[]) AS e(id), event_roles r WHERE r.event_id = $1
     ON CONFLICT (event_id, name) DO NOTHING`, [fromEventId, toEventIds]);
}

export interface Occurrence { id: string; slug: string; series_slug: string; original_start: Date }

/** Those of `eventIds` (occurrences) whose roles (names, capacities, order) are not those of `templateId`. */
export function rolesDifferingFrom(m: EntityManager, templateId: string, eventIds: string[]): Promise<Occurrence[]> {
  if (!eventIds.length) return Promise.resolve([]);
  return m.query(
    `SELECT e.id, e.slug, e.series_slug, e.original_start FROM events e
      WHERE e.id = ANY($2::uuid[])
        AND (EXISTS (SELECT name, capacity, position FROM event_roles WHERE event_id = $1
                     EXCEPT SELECT name, capacity, position FROM event_roles WHERE event_id = e.id)
          OR EXISTS (SELECT name, capacity, position FROM event_roles WHERE event_id = e.id
                     EXCEPT SELECT name, capacity, position FROM event_roles WHERE event_id = $1))`, [templateId, eventIds]);
}

