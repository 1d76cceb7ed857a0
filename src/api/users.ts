import { email, handle, name, SlugParam } from './fields.ts';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { UserEntity, type User } from '../db/entities/user.ts';
import { DomainError, notFound } from '../domain/errors.ts';
import { requestSync } from '../temporal/signals.ts';
import { requireUser } from './access.ts';
import { OperationSchema, operationReader } from './operations.ts';
import { makeSlug } from '../domain/slug.ts';
import { requireRole, type AuthEnv } from './auth.ts';
import type { AppDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { idempotent, keepAnswer } from './idempotency.ts';

export const UserSchema = z.object({
  id: z.string().uuid(), slug: z.string(), displayName: z.string(), handle: z.string().nullable(),
  did: z.string().nullable(), isShadowAccount: z.boolean(), createdAt: z.string(),
}).openapi('User');

export const toUserJson = (u: User) => ({
  id: u.id, slug: u.slug, displayName: u.displayName, handle: u.handle, did: u.did,
  isShadowAccount: u.isShadowAccount, createdAt: u.createdAt.toISOString(),
});

export function usersRoutes(deps: AppDeps) {
  const { ds } = deps;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const users = ds.getRepository(UserEntity);

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
      const repo = m.getRepository(UserEntity);
      const json = toUserJson(await repo.save(repo.create({
        slug: makeSlug(body.handle ?? body.displayName), email: body.email ?? null,
        displayName: body.displayName, handle: body.handle ?? null,
      })));
      await keepAnswer(c, m, 201, json);
      return json;
    });
    return c.json(answer, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/users/{slug}', tags: ['users'], security: [{ bearer: [] }],
    request: { params: SlugParam },
    responses: { 200: { content: { 'application/json': { schema: UserSchema } }, description: 'the user' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const user = await users.findOneBy({ slug });
    if (!user) throw notFound('user', slug);
    return c.json(toUserJson(user), 200);
  });

  const operations = operationReader(deps);
  app.openapi(createRoute({
    method: 'post', path: '/v1/me/bluesky/sync', tags: ['users'], security: [{ bearer: [] }],
    summary: 'reconcile the caller\'s calendar records on their PDS with meetflow, both ways (bsky-sync:<did>)',
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the sync' }, ...errorResponses },
  }), async (c) => {
    const user = await requireUser(ds, c.get('auth'));
    if (!user.did || !user.blueskyConnected) throw new DomainError(409, 'bluesky_not_connected', 'log in with Bluesky first');
    return c.json(await operations.describe(await requestSync(deps.temporal, deps.config, user.did)), 202);
  });

  return app;
}
