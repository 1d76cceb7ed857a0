import { createMiddleware } from 'hono/factory';
import type { Redis } from 'ioredis';
import { DomainError } from '../domain/errors.ts';
import type { AuthEnv } from './auth.ts';

const PENDING = 'pending';
const TTL_SECONDS = 24 * 3600;

/**
 * `Idempotency-Key` on creating POSTs: the first answer (status < 500) is kept for 24 h per
 * caller and key and replayed for repeats; a repeat while the first is still running is a 409.
 */
export function idempotent(redis: Redis) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const key = c.req.header('Idempotency-Key');
    if (!key) return next();
    const slot = `idem:${c.get('auth').sub}:${c.req.method}:${c.req.path}:${key}`;
    const taken = await redis.set(slot, PENDING, 'EX', 60, 'NX');
    if (!taken) {
      const stored = await redis.get(slot);
      if (!stored || stored === PENDING) {
        throw new DomainError(409, 'idempotency_in_progress', 'a request with this Idempotency-Key is still running');
      }
      const { status, body } = JSON.parse(stored);
      return c.json(body, status);
    }
    try {
      await next();
    } finally {
      if (c.res.status < 500 && c.res.headers.get('content-type')?.includes('json')) {
        const body = await c.res.clone().json();
        await redis.set(slot, JSON.stringify({ status: c.res.status, body }), 'EX', TTL_SECONDS);
      } else {
        await redis.del(slot);
      }
    }
  });
}
