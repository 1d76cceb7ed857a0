import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { poolStats } from '../db/data-source.ts';
import type { AppDeps } from './deps.ts';

const CHECK_TIMEOUT_MS = 2000;

async function check<T>(fn: () => Promise<T>): Promise<{ up: boolean; latencyMs: number; error?: string } & Partial<T>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS); });
    const extra = await Promise.race([fn(), timeout]);
    return { up: true, latencyMs: Math.round(performance.now() - started), ...(extra ?? {}) } as never;
  } catch (err) {
    return { up: false, latencyMs: Math.round(performance.now() - started), error: (err as Error).message } as never;
  } finally {
    clearTimeout(timer);
  }
}

const Check = z.object({ up: z.boolean(), latencyMs: z.number(), error: z.string().optional() }).passthrough();
const Ready = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), Check) }).openapi('Readiness');

export function healthRoutes({ ds, redis, temporal }: AppDeps) {
  const app = new OpenAPIHono();

  app.openapi(createRoute({
    method: 'get', path: '/health/live', tags: ['health'],
    responses: { 200: { content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } }, description: 'the process answers' } },
  }), (c) => c.json({ status: 'ok' as const }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/health/ready', tags: ['health'],
    responses: {
      200: { content: { 'application/json': { schema: Ready } }, description: 'every dependency answers' },
      503: { content: { 'application/json': { schema: Ready } }, description: 'a dependency is down' },
    },
  }), async (c) => {
    const [postgres, redisCheck, temporalCheck] = await Promise.all([
      check(async () => { await ds.query('SELECT 1'); return { pool: poolStats(ds) }; }),
      check(async () => { await redis.ping(); return {}; }),
      check(async () => {
        await temporal.connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS,
          () => temporal.workflowService.getSystemInfo({}));
        return {};
      }),
    ]);
    const checks = { postgres, redis: redisCheck, temporal: temporalCheck };
    const up = Object.values(checks).every((x) => x.up);
    return c.json({ status: up ? 'ok' as const : 'unavailable' as const, checks }, up ? 200 : 503);
  });

  return app;
}
