import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { DomainError } from '../domain/errors.ts';
import { OPERATION_TYPES } from '../temporal/contracts.ts';
import { requireRole, type AuthEnv } from './auth.ts';
import type { AppDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { cursor, operationId } from './fields.ts';
import { ENTITY_FILTER, operationReader, STATUS_FILTER } from './operation-reader.ts';
import { OperationSchema, type Operation } from './schemas.ts';

const MAX_WAIT_S = 10;

export function operationsRoutes(deps: AppDeps) {
  const { temporal } = deps;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const { describe, describeWhenClosed, list } = operationReader(deps);

  const Id = z.object({ id: operationId });

  app.openapi(createRoute({
    method: 'get', path: '/v1/operations/{id}', tags: ['operations'], security: [{ bearer: [] }],
    request: {
      params: Id,
      query: z.object({
        wait: z.coerce.number().int().min(0).max(MAX_WAIT_S).default(0).openapi({
          description: `seconds to hold the answer while the operation runs: it comes as soon as the operation closes (a long poll; at most ${MAX_WAIT_S})`,
        }),
      }),
    },
    responses: { 200: { content: { 'application/json': { schema: OperationSchema } }, description: 'the operation' }, ...errorResponses },
  }), async (c) => {
    // Within the request timeout, with room for the descriptions around the wait (TEMPORAL_REQUEST_TIMEOUT_MS each).
    const ms = Math.min(c.req.valid('query').wait * 1000, deps.config.API_REQUEST_TIMEOUT_MS - 2 * deps.config.TEMPORAL_REQUEST_TIMEOUT_MS);
    return c.json(await describeWhenClosed(c.req.valid('param').id, c.get('auth'), ms, c.req.raw.signal), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/operations', tags: ['operations'], security: [{ bearer: [] }],
    request: {
      query: z.object({
        type: z.enum(Object.keys(OPERATION_TYPES) as [string, ...string[]]).optional(),
        entity: z.string().regex(ENTITY_FILTER, 'kind:slug').optional(),
        status: z.enum(Object.keys(STATUS_FILTER) as [Operation['status'], ...Operation['status'][]]).optional(),
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: cursor.optional(),
      }),
    },
    responses: {
      200: { content: { 'application/json': { schema: z.object({ items: z.array(OperationSchema), nextCursor: z.string().nullable() }) } }, description: 'operations, newest first' },
      ...errorResponses,
    },
  }), async (c) => {
    return c.json(await list(c.req.valid('query'), c.get('auth')), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/v1/operations/{id}/cancel', tags: ['operations'], security: [{ bearer: [] }],
    middleware: [requireRole('admin')] as const,
    request: { params: Id },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'cancellation requested' }, ...errorResponses },
  }), async (c) => {
    const { id } = c.req.valid('param');
    const op = await describe(id);
    if (op.status !== 'running') throw new DomainError('conflict', `operation ${id} is already ${op.status}`);
    await temporal.workflow.getHandle(id).cancel();
    return c.json(op, 202);
  });

  return app;
}
