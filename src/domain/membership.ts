import type { EntityManager } from 'typeorm';
import {
  deleteJoinRequest, deleteMember, insertJoinRequest, insertMember, joinRequestRow, lockActiveGroup, memberRow, nameAnOwner, ownerCount,
  setMemberRole, type GroupRole, type LockedGroup,
} from '../db/groups.ts';
import { DomainError, notFound } from './errors.ts';

/**
 * Group membership: join (open groups) or request and approval, leave, roles and removal. Every
 * change runs under the group's row lock, so two concurrent changes (two owners demoting each
 * other) are decided one after the other and a group never loses its last owner. `groups.owner_id`
 * always names one of the current owners (the earliest), since permissions read it.
 */
export type { GroupRole, LockedGroup };
export interface Membership { role: GroupRole | null; status: 'active' | 'requested' | 'none'; since: Date | null }
/** Who acts: a user, who may be a platform admin (acts as an owner of every group). */
export interface Actor { userId: string; platformAdmin: boolean }

const NONE: Membership = { role: null, status: 'none', since: null };
/** A membership before and after a change (the same when nothing changed). */
export interface MembershipChange { before: Membership; after: Membership }

export async function lockGroup(m: EntityManager, slug: string): Promise<LockedGroup> {
  const g = await lockActiveGroup(m, slug);
  if (!g) throw notFound('group', slug);
  return g;
}

export async function membershipOf(m: EntityManager, groupId: string, userId: string): Promise<Membership> {
  const member = await memberRow(m, groupId, userId);
  if (member) return { role: member.role, status: 'active', since: member.created_at };
  const request = await joinRequestRow(m, groupId, userId);
  return request ? { role: null, status: 'requested', since: request.created_at } : NONE;
}

/** The caller joins an open group, or asks to join one that needs approval. Repeating it changes nothing. */
export async function join(m: EntityManager, group: LockedGroup, userId: string): Promise<MembershipChange> {
  const before = await membershipOf(m, group.id, userId);
  if (before.status !== 'none') return { before, after: before };
  if (group.joining === 'approval') {
    await insertJoinRequest(m, group.id, userId);
  } else {
    await insertMember(m, group.id, userId, 'member');
  }
  return { before, after: await membershipOf(m, group.id, userId) };
}

/** Sets a member's role, or approves a request with that role. */
export async function setRole(m: EntityManager, group: LockedGroup, actor: Actor, targetId: string, role: GroupRole): Promise<MembershipChange> {
  const target = await membershipOf(m, group.id, targetId);
  if (target.status === 'none') throw new DomainError('not_found', 'this user is neither a member of the group nor asking to join it');
  await authorize(m, group, actor, target.role === 'owner' || role === 'owner');
  if (target.status === 'requested') {
    await deleteJoinRequest(m, group.id, targetId);
    await insertMember(m, group.id, targetId, role);
  } else if (target.role !== role) {
    if (target.role === 'owner') await keepAnOwner(m, group);
    await setMemberRole(m, group.id, targetId, role);
    await nameAnOwner(m, group.id);
  } else {
    return { before: target, after: target };
  }
  return { before: target, after: await membershipOf(m, group.id, targetId) };
}

/**
 * Ends a membership or a request: the member themselves (leaving), or an admin (removing; an
 * owner only by an owner). The last owner cannot go. Ending what does not exist changes nothing.
 */
export async function end(m: EntityManager, group: LockedGroup, actor: Actor, targetId: string): Promise<MembershipChange> {
  const target = await membershipOf(m, group.id, targetId);
  if (actor.userId !== targetId) await authorize(m, group, actor, target.role === 'owner');
  if (target.status === 'none') return { before: target, after: target };
  if (target.status === 'requested') {
    await deleteJoinRequest(m, group.id, targetId);
    return { before: target, after: NONE };
  }
  if (target.role === 'owner') await keepAnOwner(m, group);
  await deleteMember(m, group.id, targetId);
  await nameAnOwner(m, group.id);
  return { before: target, after: NONE };
}

/** May the actor manage this group's members (`owners`: changes that touch the owner role)? */
export async function isGroupAdmin(m: EntityManager, groupId: string, actor: Actor, owners = false): Promise<boolean> {
  if (actor.platformAdmin) return true;
  const me = await memberRow(m, groupId, actor.userId);
  return me?.role === 'owner' || (!owners && me?.role === 'admin');
}

async function authorize(m: EntityManager, group: LockedGroup, actor: Actor, owners: boolean): Promise<void> {
  if (await isGroupAdmin(m, group.id, actor, owners)) return;
  throw new DomainError('forbidden', owners
    ? `only an owner of ${group.slug} may give or take the owner role`
    : `only an owner or admin of ${group.slug} may manage its members`);
}

/** Called before an owner stops being one (under the group lock). */
async function keepAnOwner(m: EntityManager, group: LockedGroup): Promise<void> {
  if (await ownerCount(m, group.id) <= 1) {
    throw new DomainError('last_owner', `${group.slug} must keep an owner: make someone else owner first`);
  }
}
