import { randomUUID } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { log, requestContext } from '../logger.ts';

/** What a caller may send as its request id; anything else is replaced (it goes into logs and headers). */
const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Every request has an id: the caller's `X-Request-Id` when it is a sane one, else a new one; it is
 * echoed back, stamped on every log line of the request and carried (a Temporal header) into the
 * workflows the request starts or signals and their activities. One access log line per request.
 */
export const requestIds = createMiddleware(async (c, next) => {
  const given = c.req.header('X-Request-Id');
  const requestId = given && VALID.test(given) ? given : randomUUID();
  const started = performance.now();
  await requestContext.run({ requestId }, async () => {
    await next();
    log.info({ method: c.req.method, route: c.req.routePath, status: c.res.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  c.res.headers.set('X-Request-Id', requestId);
});
