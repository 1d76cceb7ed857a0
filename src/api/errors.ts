import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { QueryFailedError } from 'typeorm';
import { z } from '@hono/zod-openapi';
import { DomainError, ERROR_CODES, type ErrorKind } from '../domain/errors.ts';
import { log } from '../logger.ts';

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: 'validation_failed' }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
}).openapi('Error');

const json = { 'application/json': { schema: ErrorSchema } };
/** The error answers every route documents. */
export const errorResponses = {
  400: { content: json, description: 'invalid input (`validation_failed`)' },
  401: { content: json, description: 'missing or invalid token (`unauthorized`)' },
  403: { content: json, description: 'not allowed (`forbidden`)' },
  404: { content: json, description: 'no such resource (`not_found`)' },
  409: { content: json, description: 'conflicts with the current state (e.g. `event_deleting`, `event_not_open`, `last_owner`, `role_full`, `role_in_use`, `claim_in_progress`, `bluesky_not_connected`, `conflict`)' },
  413: { content: json, description: 'the body is larger than API_BODY_LIMIT_BYTES (`payload_too_large`)' },
  422: { content: json, description: 'well-formed but not acceptable for this resource (`unknown_role`, `capacity_per_role`, `idempotency_key_reused`, `invalid_reference`)' },
  429: { content: json, description: 'too many requests (`rate_limited`); see `Retry-After`' },
  503: { content: json, description: 'a dependency is busy or down (`database_busy`, `database_timeout`, `database_unavailable`, `temporal_unavailable`, `redis_unavailable`, `bluesky_unavailable`); try again' },
} as const;

export function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { error: details ? { code, message, details } : { code, message } };
}

/** Validation failures of request params, query and body (zod-openapi's defaultHook). */
export function validationHook(result: { success: boolean; error?: z.ZodError }, c: Context) {
  if (!result.success && result.error) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    return c.json(errorBody('validation_failed', 'request is not valid', { issues }), 400);
  }
}

const PG_CODES: Record<string, { status: 409 | 422 | 503; code: string }> = {
  '23505': { status: 409, code: 'conflict' }, // unique_violation
  '23503': { status: 422, code: 'invalid_reference' }, // foreign_key_violation
  '23514': { status: 422, code: 'validation_failed' }, // check_violation
  '57014': { status: 503, code: 'database_timeout' }, // statement_timeout
  '55P03': { status: 503, code: 'database_timeout' }, // lock_timeout
  '25P03': { status: 503, code: 'database_timeout' }, // idle_in_transaction_session_timeout
  '57P01': { status: 503, code: 'database_unavailable' }, // the server is shutting down
};
/**
 * Input Postgres cannot store or read (NUL bytes, invalid encodings, text for a number, a date
 * that does not exist such as month 13) that got past the guards: still a 400.
 */
const PG_BAD_INPUT = new Set(['22021', '22P05', '22P02', '22007', '22008']);

/** The pool's own refusals: no free connection within DB_ACQUIRE_TIMEOUT_MS, or none at all. */
function databaseUnavailable(err: Error): { code: string; message: string } | null {
  if (/timeout exceeded when trying to connect|Connection terminated due to connection timeout/.test(err.message)) {
    return { code: 'database_busy', message: 'the database is busy; try again shortly' };
  }
  if (err.message === 'Query read timeout') { // the server stopped answering (pg's query_timeout)
    return { code: 'database_timeout', message: 'the database did not answer in time; try again shortly' };
  }
  if ((err as { code?: string }).code === 'ECONNREFUSED' || /Connection terminated unexpectedly/.test(err.message)) {
    return { code: 'database_unavailable', message: 'the database is unavailable; try again shortly' };
  }
  return null;
}

/** Temporal unreachable or too slow (gRPC UNAVAILABLE, DEADLINE_EXCEEDED), however deep in the cause chain. */
function temporalUnavailable(err: unknown): boolean {
  for (let e = err as { code?: number; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === 14 || e.code === 4) return true;
  }
  return false;
}

/** Redis unreachable (ioredis gave up on the command, or the connection is down) or not answering. */
function redisUnavailable(err: Error): boolean {
  return err.name === 'MaxRetriesPerRequestError' || /^(Connection is closed|Stream isn't writeable|Command timed out)/.test(err.message);
}

/** Escapes what a log line prints of a request, so no input can forge a line (CR, LF, control characters). */
export const loggable = (text: string) => JSON.stringify(text.slice(0, 500));

/** The HTTP status of each kind of domain error: the only place a code meets a status. */
const STATUS_OF: Record<ErrorKind, 400 | 401 | 403 | 404 | 409 | 422 | 503> = {
  invalid: 400, unauthenticated: 401, forbidden: 403, not_found: 404, conflict: 409, unacceptable: 422, transient: 503,
};
export const statusOf = (err: DomainError) => STATUS_OF[ERROR_CODES[err.code]];

/** One place that turns any thrown error into the api.md error shape; never a stack trace. */
export function onError(err: Error, c: Context) {
  if (err instanceof DomainError) {
    const status = statusOf(err);
    return c.json(errorBody(err.code, err.message, err.details), status, status === 503 ? { 'Retry-After': '1' } : {});
  }
  if (err instanceof HTTPException) {
    const code = err.status === 401 ? 'unauthorized' : err.status === 403 ? 'forbidden' : 'bad_request';
    return c.json(errorBody(code, err.message || code), err.status);
  }
  if (err instanceof QueryFailedError) {
    const pg = err.driverError as { code?: string; constraint?: string; detail?: string };
    const mapped = pg.code ? PG_CODES[pg.code] : undefined;
    if (mapped?.status === 503) return c.json(errorBody(mapped.code, 'the database did not answer in time; try again shortly'), 503, { 'Retry-After': '1' });
    if (mapped) return c.json(errorBody(mapped.code, pg.detail ?? 'constraint violated', { constraint: pg.constraint }), mapped.status);
    if (pg.code && PG_BAD_INPUT.has(pg.code)) return c.json(errorBody('validation_failed', 'the input contains values that cannot be stored'), 400);
  }
  if (temporalUnavailable(err)) {
    return c.json(errorBody('temporal_unavailable', 'the workflow service is unavailable; try again shortly'), 503, { 'Retry-After': '1' });
  }
  if (redisUnavailable(err)) {
    return c.json(errorBody('redis_unavailable', 'the session store is unavailable; try again shortly'), 503, { 'Retry-After': '1' });
  }
  const down = databaseUnavailable(err);
  if (down) return c.json(errorBody(down.code, down.message), 503, { 'Retry-After': '1' });
  log.error({ err, method: c.req.method, path: loggable(c.req.path) }, 'unhandled error');
  return c.json(errorBody('internal', 'internal error'), 500);
}
