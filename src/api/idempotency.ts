import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../domain/errors.ts';
import type { AuthEnv } from './auth.ts';
import { keepAnswerRow, keptAnswer, replaceAnswerBody, type KeptAnswer } from '../db/idempotency-keys.ts';

/**
 * `Idempotency-Key` on creating POSTs, kept in Postgres (`idempotency_keys`) for 24 h per caller,
 * route and key. The handler writes its answer with `keepAnswer` inside the transaction of the
 * change, so the key and the change commit together: a retry after any failure (a timeout, a
 * crash, a 5xx after the commit) replays the committed answer, and a concurrent duplicate meets
 * the primary key, waits for the first to commit and replays its answer: never a second row.
 * After the request the kept answer is brought up to date (its follow-ups delivered, not pending).
 * The same key with a different body is a 422; nothing is kept for a request that changed nothing.
 */
const KEY = /^[\x21-\x7e]{1,200}$/;
type Keeper = (m: EntityManager, status: number, body: unknown) => Promise<void>;
const keepers = new WeakMap<Request, Keeper>();

/** Raised by a second transaction that meets the key of one committed meanwhile; the middleware replays. */
class KeyTaken extends DomainError {
  constructor() { super('idempotency_in_progress', 'a request with this Idempotency-Key committed meanwhile'); }
}

/** Inside the change's transaction: keeps `body` as the answer to this request's key (if it has one). */
export async function keepAnswer(c: Context, m: EntityManager, status: number, body: unknown): Promise<void> {
  await keepers.get(c.req.raw)?.(m, status, body);
}

export function idempotent(ds: DataSource) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const key = c.req.header('Idempotency-Key');
    if (key === undefined) return next();
    if (!KEY.test(key)) throw new DomainError('validation_failed', 'Idempotency-Key must be 1 to 200 printable ASCII characters');
    const scope = `${c.get('auth').sub}:${c.req.method}:${c.req.path}`;
    const hash = createHash('sha256').update(await c.req.text()).digest('base64url');
    const find = () => keptAnswer(ds, scope, key);
    const replay = (kept: KeptAnswer) => {
      if (kept.request_hash !== hash) {
        throw new DomainError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
      }
      return c.json(kept.body as object, kept.status as 201, { 'Idempotent-Replayed': 'true' });
    };

    const kept = await find();
    if (kept) return replay(kept);
    keepers.set(c.req.raw, async (m, status, body) => {
      // An expired key may be reused; a live one (committed by a concurrent duplicate) may not.
      if (!await keepAnswerRow(m, scope, key, hash, status, body)) throw new KeyTaken();
    });
    await next();
    if (c.error instanceof KeyTaken) {
      const first = await find();
      if (first) c.res = replay(first);
    } else if (c.res.status < 300 && c.res.headers.get('content-type')?.includes('json')) {
      await replaceAnswerBody(ds, scope, key, await c.res.clone().json()).catch(() => undefined); // the kept answer still holds
    }
  });
}
