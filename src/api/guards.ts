import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { readAuth } from './auth.ts';
import { errorBody, loggable } from './errors.ts';
import { log } from '../logger.ts';

/** Bodies over API_BODY_LIMIT_BYTES are refused with 413 before they are read whole. */
export function limitBody(config: Config): MiddlewareHandler {
  const max = config.API_BODY_LIMIT_BYTES;
  const tooLarge = (c: Context) => c.json(errorBody('payload_too_large', `the body is larger than ${max} bytes`), 413);
  const counted = bodyLimit({ maxSize: max, onError: tooLarge });
  // A declared length is checked as it stands, and GET and HEAD never carry a body: `bodyLimit`
  // starts by touching the body, which makes @hono/node-server build a whole fetch Request (a fifth
  // of the CPU of GET /health/live, profiled), and it would go on to trust the same header.
  // Chunked bodies are counted.
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined && /^\d{1,15}$/.test(declared) && c.req.header('transfer-encoding') === undefined) {
      return Number(declared) > max ? tooLarge(c) : next();
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return counted(c, next);
  };
}

// NUL can never be stored (Postgres text refuses it) and other C0 controls have no place in a
// path or a query; in JSON strings only NUL is refused (newlines in a description are fine).
const CONTROL = /[\u0000-\u001f\u007f]/;
const NUL_IN_JSON = /\\u0000|\u0000/;

/** Control characters in the URL, or NUL in a JSON body: 400, before anything reaches the database. */
export const refuseControlCharacters = createMiddleware(async (c, next) => {
  let target: string;
  try {
    target = decodeURIComponent(c.req.url.slice(new URL(c.req.url).origin.length));
  } catch {
    return c.json(errorBody('validation_failed', 'the URL is not validly percent-encoded'), 400);
  }
  if (CONTROL.test(target)) return c.json(errorBody('validation_failed', 'control characters are not allowed in the URL'), 400);
  if (c.req.header('content-type')?.includes('json') && NUL_IN_JSON.test(await c.req.text())) {
    return c.json(errorBody('validation_failed', 'NUL characters are not allowed in the body'), 400);
  }
  await next();
});

/** The client address: the socket's peer (a proxy in front should strip and set its own headers). */
function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // in-process requests (tests) have no socket
  }
}

/**
 * Fixed-window rate limits in Redis, so they hold across API processes: per client address on
 * requests without a valid token (logins relay password guesses to a PDS), per user on writes.
 * 429 `rate_limited` with `RateLimit`/`RateLimit-Policy` and `Retry-After`. Redis being down
 * fails open: availability over throttling, and said in the log.
 */
export function rateLimits(redis: Redis, config: Config): MiddlewareHandler {
  const WINDOW_S = 60;
  return async (c, next) => {
    const auth = await readAuth(c.req.header('Authorization'), config).catch(() => null);
    const write = c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.req.method !== 'OPTIONS';
    const [bucket, who, limit] = !auth
      ? ['anon', clientIp(c), config.RATE_LIMIT_ANON_PER_MIN]
      : write && auth.role !== 'service' && auth.role !== 'admin' ? ['writes', auth.sub, config.RATE_LIMIT_WRITES_PER_MIN] : [null, '', 0];
    if (!bucket || limit === 0) return next();
    const window = Math.floor(Date.now() / 1000 / WINDOW_S);
    const key = `rl:${bucket}:${who}:${window}`;
    let count: number;
    try {
      [[, count]] = await redis.multi().incr(key).expire(key, WINDOW_S * 2).exec() as [[null, number], unknown];
    } catch (err) {
      log.warn({ reason: loggable((err as Error).message) }, 'rate limit not applied (Redis unavailable)');
      return next();
    }
    const reset = (window + 1) * WINDOW_S - Math.floor(Date.now() / 1000);
    c.header('RateLimit-Policy', `${limit};w=${WINDOW_S}`);
    c.header('RateLimit', `limit=${limit}, remaining=${Math.max(limit - count, 0)}, reset=${reset}`);
    if (count > limit) {
      c.header('Retry-After', String(reset));
      return c.json(errorBody('rate_limited', `too many requests; try again in ${reset} s`, { limit, windowSeconds: WINDOW_S }), 429);
    }
    await next();
  };
}
