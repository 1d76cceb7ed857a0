import type { DataSource } from 'typeorm';
import { repoOf } from '../domain/ingest.ts';
import { isManager } from './access.ts';
import type { Auth } from './auth.ts';

/**
 * Who may read an operation (its progress, result and errors): admin and service callers, whoever
 * started it (memo `requestedBy`), and those who may manage its entity: an event's or series'
 * managers, a group's owners and admins, the user a DID or an RSVP belongs to, the author of an
 * ingested record. Everyone else is told it does not exist.
 */
export function operationAccess(ds: DataSource) {
  const one = async (sql: string, params: unknown[]) => (await ds.query(sql, params))[0] as Record<string, string | null> | undefined;
  const managed = (row: Record<string, string | null> | undefined, auth: Auth) =>
    row ? isManager(ds, auth, { ownerId: row.owner_id!, groupId: row.group_id }) : false;

  return async function mayRead(auth: Auth, entity: { kind: string; slug: string }, requestedBy?: unknown): Promise<boolean> {
    if (auth.role === 'admin' || auth.role === 'service' || requestedBy === auth.sub) return true;
    const { kind, slug } = entity;
    switch (kind) {
      case 'event':
        return managed(await one(`SELECT owner_id, group_id FROM events WHERE slug = $1`, [slug]), auth);
      case 'series':
        return managed(await one(`SELECT owner_id, group_id FROM event_series WHERE slug = $1`, [slug]), auth);
      case 'group':
        return managed(await one(`SELECT owner_id, id AS group_id FROM groups WHERE slug = $1`, [slug]), auth);
      case 'did':
        return Boolean(await one(`SELECT 1 FROM users WHERE did = $1 AND (id::text = $2 OR claimed_by::text = $2)`, [slug, auth.sub]));
      case 'record':
        return Boolean(await one(`SELECT 1 FROM users WHERE did = $1 AND id::text = $2`, [repoOf(slug), auth.sub]));
      case 'attendee': {
        const [eventSlug, userSlug] = slug.split('/');
        if (await one(`SELECT 1 FROM users WHERE slug = $1 AND id::text = $2`, [userSlug, auth.sub])) return true;
        return managed(await one(`SELECT owner_id, group_id FROM events WHERE slug = $1`, [eventSlug]), auth);
      }
      default:
        return false;
    }
  };
}
