import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { requireRole, type AuthEnv } from './auth.ts';
import type { AppDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { operationReader } from './operation-reader.ts';
import { OperationSchema } from './schemas.ts';

/** The entity key of an admin's run of a housekeeping operation: its start time (`run-2026-11-25t22-17-00-000z`). */
const runKey = (prefix: string) => `${prefix}-${new Date().toISOString().replace(/[:.]/g, '-').toLowerCase()}`;

export function adminRoutes(deps: AppDeps) {
  const { config } = deps;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const operations = operationReader(deps);

  app.openapi(createRoute({
    method: 'post', path: '/v1/admin/chat-retention/run', tags: ['admin'], security: [{ bearer: [] }],
    summary: 'close the chat rooms of events that ended more than retentionDays ago, now',
    middleware: [requireRole('admin')] as const,
    request: {
      body: {
        required: false,
        content: { 'application/json': { schema: z.object({
          dryRun: z.boolean().default(false),
          retentionDays: z.number().int().min(0).max(3650).optional(),
        }).strict() } },
      },
    },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the retention run' }, ...errorResponses },
  }), async (c) => {
    const body = c.req.valid('json') ?? { dryRun: false };
    const op = await operations.start('chat-retention', runKey(body.dryRun ? 'dry-run' : 'run'),
      { retentionDays: body.retentionDays ?? config.CHAT_RETENTION_DAYS, dryRun: body.dryRun });
    return c.json(op, 202);
  });

  app.openapi(createRoute({
    method: 'post', path: '/v1/admin/reconcile/run', tags: ['admin'], security: [{ bearer: [] }],
    summary: 'find divergence between rows and workflows (free seats with people waiting, rooms, records, materializers, stopped deletions) and repair it, now',
    middleware: [requireRole('admin')] as const,
    request: {
      body: {
        required: false,
        content: { 'application/json': { schema: z.object({
          staleMinutes: z.number().int().min(0).max(10_080).optional()
            .openapi({ description: 'a tombstone older than this whose deletion is not running is deleted again (default 30)' }),
        }).strict() } },
      },
    },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the reconciliation' }, ...errorResponses },
  }), async (c) => {
    const body = c.req.valid('json') ?? {};
    return c.json(await operations.start('reconcile', runKey('run'), body), 202);
  });

  return app;
}
