import type { DataSource } from 'typeorm';
import { eventBySlug } from '../db/events.ts';
import { groupBySlug } from '../db/groups.ts';
import { seriesOwnership } from '../db/series.ts';
import { userByDid, userBySlug } from '../db/users.ts';
import { repoOf } from '../domain/ingest.ts';
import { isManager } from './access.ts';
import type { Auth } from './auth.ts';

/**
 * Who may read an operation (its progress, result and errors): admin and service callers, whoever
 * started it (memo `requestedBy`), and those who may manage its entity: an event's or series'
 * managers, a group's owners and admins, the user a DID or an RSVP belongs to, the user an
 * operation keyed by user id acts for (their publisher), the author of an ingested record.
 * Everyone else is told it does not exist.
 */
export function operationAccess(ds: DataSource) {
  const managed = (thing: { ownerId: string; groupId: string | null } | null, auth: Auth) => (thing ? isManager(ds, auth, thing) : false);
  const isUser = (user: { id: string; claimedBy?: string | null } | null, auth: Auth, orClaimant = false) =>
    user !== null && (user.id === auth.sub || (orClaimant && user.claimedBy === auth.sub));

  return async function mayRead(auth: Auth, entity: { kind: string; slug: string }, requestedBy?: unknown): Promise<boolean> {
    if (auth.role === 'admin' || auth.role === 'service' || requestedBy === auth.sub) return true;
    const { kind, slug } = entity;
    switch (kind) {
      case 'event':
        return managed(await eventBySlug(ds, slug), auth);
      case 'series':
        return managed(await seriesOwnership(ds, slug), auth);
      case 'group': {
        const group = await groupBySlug(ds, slug);
        return managed(group && { ownerId: group.ownerId, groupId: group.id }, auth);
      }
      case 'user':
        return slug === auth.sub;
      case 'did':
        return isUser(await userByDid(ds, slug), auth, true);
      case 'record':
        return isUser(await userByDid(ds, repoOf(slug)), auth);
      case 'attendee': {
        const [eventSlug, userSlug] = slug.split('/');
        return isUser(await userBySlug(ds, userSlug ?? ''), auth) || managed(await eventBySlug(ds, eventSlug), auth);
      }
      default:
        return false;
    }
  };
}
