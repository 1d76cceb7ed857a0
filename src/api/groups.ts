import { followUpOperations, name, SlugParam, text } from './fields.ts';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Group } from '../db/entities/group.ts';
import { groupBySlug, insertGroup } from '../db/groups.ts';
import { notFound } from '../domain/errors.ts';
import { makeSlug } from '../domain/slug.ts';
import type { AuthEnv } from './auth.ts';
import type { RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { commitCreated } from './created.ts';
import { idempotent } from './idempotency.ts';
import { requireManager, requireUser } from './access.ts';
import { operationReader } from './operation-reader.ts';
import { OperationSchema } from './schemas.ts';
import { afterGroupCreated } from '../follow-ups/rules.ts';

export const GroupSchema = z.object({
  slug: z.string(), name: z.string(), description: z.string().nullable(), ownerId: z.string().uuid(),
  chatEnabled: z.boolean(),
  joining: z.enum(['open', 'approval']).openapi({ description: '`open`: anyone joins; `approval`: an owner or admin approves each request' }),
  createdAt: z.string(),
  operations: followUpOperations.optional(),
}).openapi('Group');

const toGroupJson = (g: Group) => ({
  slug: g.slug, name: g.name, description: g.description, ownerId: g.ownerId,
  chatEnabled: g.chatEnabled, joining: g.joining, createdAt: g.createdAt.toISOString(),
});

export function groupsRoutes(deps: RouteDeps) {
  const { ds, config, followUps } = deps;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(createRoute({
    method: 'post', path: '/v1/groups', tags: ['groups'], security: [{ bearer: [] }],
    summary: 'create a group; the caller becomes its owner',
    middleware: [idempotent(ds)] as const,
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: z.object({
          name: name(200),
          description: text(10_000).optional(),
          chatEnabled: z.boolean().default(false),
          joining: z.enum(['open', 'approval']).default('open'),
        }).strict() } },
      },
    },
    responses: { 201: { content: { 'application/json': { schema: GroupSchema } }, description: 'created' }, ...errorResponses },
  }), async (c) => {
    const body = c.req.valid('json');
    const owner = await requireUser(ds, c.get('auth'));
    const { recorded, answer } = await ds.transaction(async (m) => {
      const g = await insertGroup(m, {
        slug: makeSlug(body.name), name: body.name, description: body.description ?? null,
        ownerId: owner.id, chatEnabled: body.chatEnabled, joining: body.joining,
      });
      return commitCreated(c, m, toGroupJson(g), afterGroupCreated(config, g));
    });
    return c.json({ ...answer, operations: await followUps.deliver(recorded) }, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/groups/{slug}', tags: ['groups'], security: [{ bearer: [] }],
    request: { params: SlugParam },
    responses: { 200: { content: { 'application/json': { schema: GroupSchema } }, description: 'the group' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const group = await groupBySlug(ds, slug);
    if (group?.status !== 'active') throw notFound('group', slug);
    return c.json(toGroupJson(group), 200);
  });

  const operations = operationReader(deps);
  app.openapi(createRoute({
    method: 'delete', path: '/v1/groups/{slug}', tags: ['groups'], security: [{ bearer: [] }],
    summary: 'cascade deletion of the group, its series and events, as delete-group:<slug>',
    request: { params: SlugParam },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the deletion' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const group = await groupBySlug(ds, slug);
    if (!group) throw notFound('group', slug);
    await requireManager(ds, c.get('auth'), { ownerId: group.ownerId, groupId: group.id, slug });
    return c.json(await operations.start('delete-group', slug, { groupSlug: slug }, c.get('auth').sub), 202);
  });

  return app;
}
