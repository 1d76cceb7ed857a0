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

/**
 * Whether the process is wedged: every pooled connection checked out and requests waiting for
 * longer than LIVENESS_STALL_MS. The timeouts should end that by themselves; if they do not, an
 * orchestrator must restart the process, so liveness says so.
 */
function stallWatch(ds: AppDeps['ds'], stallMs: number) {
  let since: number | null = null;
  const timer = setInterval(() => {
    if (!ds.isInitialized) { clearInterval(timer); return; } // closed: nothing left to watch
    const pool = poolStats(ds);
    since = pool.waiting > 0 && pool.idle === 0 ? since ?? Date.now() : null;
  }, 1000);
  timer.unref();
  return () => (since !== null && Date.now() - since > stallMs ? Date.now() - since : 0);
}

export function healthRoutes({ ds, redis, temporal, config }: AppDeps) {
  const app = new OpenAPIHono();
  const stalledFor = stallWatch(ds, config.LIVENESS_STALL_MS);
  const Live = z.object({ status: z.enum(['ok', 'wedged']), stalledMs: z.number().optional() });

  app.openapi(createRoute({
    method: 'get', path: '/health/live', tags: ['health'],
    responses: {
      200: { content: { 'application/json': { schema: Live } }, description: 'the process answers' },
      503: { content: { 'application/json': { schema: Live } }, description: 'the database pool has been exhausted with requests waiting for longer than LIVENESS_STALL_MS: restart me' },
    },
  }), (c) => {
    const stalled = stalledFor();
    return stalled ? c.json({ status: 'wedged' as const, stalledMs: stalled }, 503) : c.json({ status: 'ok' as const }, 200);
  });

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
