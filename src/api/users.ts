import { email, followUpOperations, handle, name, patchOf, SlugParam } from './fields.ts';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { User } from '../db/entities/user.ts';
import { DomainError, notFound } from '../domain/errors.ts';
import { forgetSession } from '../bluesky/sessions.ts';
import { recordFollowUps } from '../follow-ups/outbox.ts';
import { afterDisconnect, afterPreferencesChanged } from '../follow-ups/rules.ts';
import { requestSync } from '../temporal/signals.ts';
import { requireUser } from './access.ts';
import { operationReader } from './operation-reader.ts';
import { OperationSchema, UserSchema } from './schemas.ts';
import { toUserJson } from './answers.ts';
import { makeSlug } from '../domain/slug.ts';
import { requireRole, type AuthEnv } from './auth.ts';
import type { RouteApp, RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { idempotent, keepAnswer } from './idempotency.ts';
import { disconnectBluesky, insertLocalUser, updateSettings, userBySlug } from '../db/users.ts';

/** The caller's own account: what others see, and their private settings. */
const MeSchema = UserSchema.extend({
  email: z.string().nullable(), blueskyConnected: z.boolean(),
  blueskyAutoPublish: z.boolean().openapi({ description: 'publish events (unless an event says otherwise) and RSVPs automatically' }),
  operations: followUpOperations.optional(),
}).openapi('Me');
const toMeJson = (u: User) => ({ ...toUserJson(u), email: u.email, blueskyConnected: u.blueskyConnected, blueskyAutoPublish: u.blueskyAutoPublish });

type Ctx = RouteDeps & { operations: ReturnType<typeof operationReader> };

export function usersRoutes(deps: RouteDeps) {
  const app: RouteApp = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const ctx: Ctx = { ...deps, operations: operationReader(deps) };
  for (const route of [createUser, getUser, getMe, patchMe, disconnectMe, syncMe]) route(app, ctx);
  return app;
}

function createUser(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'post', path: '/v1/users', tags: ['users'], security: [{ bearer: [] }],
    summary: 'create a local user (service role)',
    middleware: [requireRole('service'), idempotent(ds)] as const,
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: z.object({
          email: email.optional(),
          displayName: name(200),
          handle: handle.optional(),
        }).strict() } },
      },
    },
    responses: { 201: { content: { 'application/json': { schema: UserSchema } }, description: 'created' }, ...errorResponses },
  }), async (c) => {
    const body = c.req.valid('json');
    const answer = await ds.transaction(async (m) => {
      const json = toUserJson(await insertLocalUser(m, {
        slug: makeSlug(body.handle ?? body.displayName), email: body.email ?? null,
        displayName: body.displayName, handle: body.handle ?? null,
      }));
      await keepAnswer(c, m, 201, json);
      return json;
    });
    return c.json(answer, 201);
  });
}

function getUser(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/users/{slug}', tags: ['users'], security: [{ bearer: [] }],
    request: { params: SlugParam },
    responses: { 200: { content: { 'application/json': { schema: UserSchema } }, description: 'the user' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const user = await userBySlug(ds, slug);
    if (!user) throw notFound('user', slug);
    return c.json(toUserJson(user), 200);
  });
}

function getMe(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/me', tags: ['users'], security: [{ bearer: [] }],
    responses: { 200: { content: { 'application/json': { schema: MeSchema } }, description: 'the caller' }, ...errorResponses },
  }), async (c) => c.json(toMeJson(await requireUser(ds, c.get('auth'))), 200));
}

function patchMe(app: RouteApp, ctx: Ctx): void {
  const { ds, followUps } = ctx;
  app.openapi(createRoute({
    method: 'patch', path: '/v1/me', tags: ['users'], security: [{ bearer: [] }],
    summary: 'change the caller\'s display name or auto-publish preference (turning it on publishes what is missing: bsky-sync)',
    request: { body: { required: true, content: { 'application/json': { schema: patchOf({ displayName: name(200), blueskyAutoPublish: z.boolean() }) } } } },
    responses: { 200: { content: { 'application/json': { schema: MeSchema } }, description: 'the caller' }, ...errorResponses },
  }), async (c) => {
    const p = c.req.valid('json');
    const me = await requireUser(ds, c.get('auth'));
    const { after, recorded } = await ds.transaction(async (m) => {
      const { before, after } = await updateSettings(m, me.id, p);
      return { after, recorded: await recordFollowUps(m, afterPreferencesChanged(before, after)) };
    });
    return c.json({ ...toMeJson(after), operations: await followUps.deliver(recorded) }, 200);
  });
}

function disconnectMe(app: RouteApp, ctx: Ctx): void {
  const { ds, followUps } = ctx;
  app.openapi(createRoute({
    method: 'delete', path: '/v1/me/bluesky', tags: ['users'], security: [{ bearer: [] }],
    summary: 'disconnect Bluesky: publishing stops, the session is revoked at the PDS where it answers and forgotten here; records already published stay, unless `deleteRecords=true` (then bsky-unpublish:<did> deletes them first)',
    request: { query: z.object({ deleteRecords: z.enum(['true', 'false']).default('false') }) },
    responses: {
      200: { content: { 'application/json': { schema: z.object({
        connected: z.literal(false),
        revoked: z.boolean().nullable().openapi({ description: 'the PDS confirmed the revocation; null while bsky-unpublish still needs the session' }),
        operations: followUpOperations,
      }) } }, description: 'disconnected' },
      ...errorResponses,
    },
  }), async (c) => {
    const me = await requireUser(ds, c.get('auth'));
    const deleteRecords = c.req.valid('query').deleteRecords === 'true';
    if (!me.did) return c.json({ connected: false as const, revoked: false, operations: [] }, 200);
    // Publishing stops first (every publisher checks the connection), then the session goes:
    // at once, or after the records, by the operation recorded with the disconnection.
    const recorded = await ds.transaction(async (m) => {
      await disconnectBluesky(m, { id: me.id });
      return recordFollowUps(m, afterDisconnect(me.did!, deleteRecords));
    });
    if (deleteRecords) return c.json({ connected: false as const, revoked: null, operations: await followUps.deliver(recorded) }, 200);
    const { revoked } = await forgetSession(me.did, ctx);
    return c.json({ connected: false as const, revoked, operations: [] }, 200);
  });
}

function syncMe(app: RouteApp, ctx: Ctx): void {
  const { ds, temporal, config, operations } = ctx;
  app.openapi(createRoute({
    method: 'post', path: '/v1/me/bluesky/sync', tags: ['users'], security: [{ bearer: [] }],
    summary: 'reconcile the caller\'s calendar records on their PDS with meetflow, both ways (bsky-sync:<did>)',
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the sync' }, ...errorResponses },
  }), async (c) => {
    const user = await requireUser(ds, c.get('auth'));
    if (!user.did || !user.blueskyConnected) throw new DomainError('bluesky_not_connected', 'log in with Bluesky first');
    return c.json(await operations.describe(await requestSync(temporal, config, user.did)), 202);
  });
}
