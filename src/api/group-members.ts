import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { DataSource, EntityManager } from 'typeorm';
import type { User } from '../db/entities/user.ts';
import { activeGroupId, isMember, membersPage } from '../db/groups.ts';
import { userBySlug } from '../db/users.ts';
import { DomainError, notFound } from '../domain/errors.ts';
import { end, isGroupAdmin, join, lockGroup, setRole, type Actor, type LockedGroup, type MembershipChange } from '../domain/membership.ts';
import { recordFollowUps, type Recorded } from '../follow-ups/outbox.ts';
import { afterMembershipChanged } from '../follow-ups/rules.ts';
import { requireUser } from './access.ts';
import type { Auth, AuthEnv } from './auth.ts';
import type { RouteApp, RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { cursor, followUpOperations, slug } from './fields.ts';
import { PG_TIMESTAMP, readKey, writeKey } from './keyset.ts';

const Role = z.enum(['owner', 'admin', 'member']);
const MembershipAnswer = z.object({
  user: z.object({ slug: z.string(), displayName: z.string() }),
  role: Role.nullable(),
  status: z.enum(['active', 'requested', 'none']).openapi({ description: '`requested`: waiting for an admin of a group that needs approval' }),
  since: z.string().nullable(),
  operations: followUpOperations,
}).openapi('Membership');
const Member = MembershipAnswer.omit({ operations: true }).openapi('Member');
const GroupParam = z.object({ slug });
const MemberParam = z.object({ slug, user: slug.openapi({ description: 'the user\'s slug' }) });

/** Pages are keyed on (role rank, since, user id). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const actorOf = (auth: Auth): Actor => ({ userId: auth.sub, platformAdmin: auth.role === 'admin' });

const answer = { content: { 'application/json': { schema: MembershipAnswer } } };

async function person(ds: DataSource, userSlug: string): Promise<User> {
  const user = await userBySlug(ds, userSlug);
  if (!user) throw notFound('user', userSlug);
  return user;
}

/**
 * One membership change under the group's lock; a change of who is in the group records its
 * room's follow-up in the same transaction, delivered after the commit.
 */
async function change({ ds, config, followUps }: RouteDeps, groupSlug: string, user: User,
  act: (m: EntityManager, g: LockedGroup, userId: string) => Promise<MembershipChange>) {
  let recorded: Recorded[] = [];
  const after = await ds.transaction(async (m) => {
    const group = await lockGroup(m, groupSlug);
    const r = await act(m, group, user.id);
    if ((r.before.status === 'active') !== (r.after.status === 'active')) {
      recorded = await recordFollowUps(m, afterMembershipChanged(config, group));
    }
    return r.after;
  });
  return {
    user: { slug: user.slug, displayName: user.displayName }, role: after.role, status: after.status,
    since: after.since?.toISOString() ?? null, operations: await followUps.deliver(recorded),
  };
}

type Ctx = RouteDeps;

export function groupMembersRoutes(deps: RouteDeps) {
  const app: RouteApp = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const ctx: Ctx = deps;
  for (const route of [joinGroup, leaveGroup, setMemberRole, removeMember, listMembers]) route(app, ctx);
  return app;
}

function joinGroup(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'post', path: '/v1/groups/{slug}/members', tags: ['groups'], security: [{ bearer: [] }],
    summary: 'join the group as the caller (an open group), or ask to join it (one that needs approval); repeating it changes nothing',
    request: { params: GroupParam },
    responses: { 200: { ...answer, description: 'the caller\'s membership' }, ...errorResponses },
  }), async (c) => {
    const me = await requireUser(ds, c.get('auth'));
    return c.json(await change(ctx, c.req.valid('param').slug, me, (m, g, id) => join(m, g, id)), 200);
  });
}

function leaveGroup(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'delete', path: '/v1/groups/{slug}/members/me', tags: ['groups'], security: [{ bearer: [] }],
    summary: 'leave the group (or withdraw a request); the last owner cannot leave (409 `last_owner`)',
    request: { params: GroupParam },
    responses: { 200: { ...answer, description: 'the caller\'s membership, now none' }, ...errorResponses },
  }), async (c) => {
    const me = await requireUser(ds, c.get('auth'));
    return c.json(await change(ctx, c.req.valid('param').slug, me, (m, g, id) => end(m, g, actorOf(c.get('auth')), id)), 200);
  });
}

function setMemberRole(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'put', path: '/v1/groups/{slug}/members/{user}', tags: ['groups'], security: [{ bearer: [] }],
    summary: 'set a member\'s role, or approve a request with it (owners and admins; the owner role only by an owner; the last owner keeps it)',
    request: {
      params: MemberParam,
      body: { required: true, content: { 'application/json': { schema: z.object({ role: Role }).strict() } } },
    },
    responses: { 200: { ...answer, description: 'the membership' }, ...errorResponses },
  }), async (c) => {
    const { slug: groupSlug, user } = c.req.valid('param');
    const { role } = c.req.valid('json');
    return c.json(await change(ctx, groupSlug, await person(ds, user), (m, g, id) => setRole(m, g, actorOf(c.get('auth')), id, role)), 200);
  });
}

function removeMember(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'delete', path: '/v1/groups/{slug}/members/{user}', tags: ['groups'], security: [{ bearer: [] }],
    summary: 'remove a member or decline a request (owners and admins; an owner only by an owner; never the last owner)',
    request: { params: MemberParam },
    responses: { 200: { ...answer, description: 'the membership, now none' }, ...errorResponses },
  }), async (c) => {
    const { slug: groupSlug, user } = c.req.valid('param');
    return c.json(await change(ctx, groupSlug, await person(ds, user), (m, g, id) => end(m, g, actorOf(c.get('auth')), id)), 200);
  });
}

function listMembers(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/groups/{slug}/members', tags: ['groups'], security: [{ bearer: [] }],
    summary: 'the group\'s members (owners, admins, then members, oldest first), for its members; `status=requested`: the requests waiting, for its admins',
    request: {
      params: GroupParam,
      query: z.object({
        status: z.enum(['active', 'requested']).default('active'),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        cursor: cursor.optional(),
      }),
    },
    responses: {
      200: { content: { 'application/json': { schema: z.object({ items: z.array(Member), nextCursor: z.string().nullable() }) } }, description: 'members' },
      ...errorResponses,
    },
  }), async (c) => {
    const { slug: groupSlug } = c.req.valid('param');
    const { status, limit, cursor: token } = c.req.valid('query');
    const groupId = await activeGroupId(ds, groupSlug);
    if (!groupId) throw notFound('group', groupSlug);
    const actor = actorOf(c.get('auth'));
    const allowed = status === 'requested'
      ? await isGroupAdmin(ds.manager, groupId, actor)
      : actor.platformAdmin || await isMember(ds, groupId, actor.userId);
    if (!allowed) throw new DomainError('forbidden', status === 'requested' ? `only an owner or admin of ${groupSlug} sees its requests` : `only members of ${groupSlug} see its members`);
    const after = token ? readKey(token, ['int', PG_TIMESTAMP, UUID]) as [number, string, string] : null;
    const rows = await membersPage(ds, groupId, status, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      items: page.map((r) => ({ user: { slug: r.slug, displayName: r.display_name }, role: r.role, status, since: r.since.toISOString() })),
      nextCursor: rows.length > limit && last ? writeKey([last.rank, last.key, last.id]) : null,
    }, 200);
  });
}
