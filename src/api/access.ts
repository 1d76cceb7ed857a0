import type { DataSource } from 'typeorm';
import { UserEntity, type User } from '../db/entities/user.ts';
import type { Event } from '../db/entities/event.ts';
import { DomainError } from '../domain/errors.ts';
import type { Auth } from './auth.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The caller's user row; a token whose subject is no user is not a valid caller. */
export async function requireUser(ds: DataSource, auth: Auth): Promise<User> {
  const user = UUID.test(auth.sub) ? await ds.getRepository(UserEntity).findOneBy({ id: auth.sub }) : null;
  if (!user) throw new DomainError(401, 'unauthorized', 'token subject is not a known user');
  return user;
}

/** Owner, an owner/admin of the event's group, or an admin may manage an event. */
export async function requireEventManager(ds: DataSource, auth: Auth, event: Event): Promise<void> {
  if (auth.role === 'admin' || auth.sub === event.ownerId) return;
  if (event.groupId) {
    const [row] = await ds.query(
      `SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2 AND role IN ('owner', 'admin')`,
      [event.groupId, auth.sub]);
    if (row) return;
  }
  throw new DomainError(403, 'forbidden', `only the owner, a group admin or an admin may change event ${event.slug}`);
}
