import type { Context } from 'hono';
import type { EntityManager } from 'typeorm';
import { pendingOperations, recordFollowUps, type Recorded } from '../follow-ups/outbox.ts';
import type { FollowUp } from '../follow-ups/rules.ts';
import { keepAnswer } from './idempotency.ts';

/**
 * The end of a create's transaction: records what it sets in motion and keeps its answer (those
 * operations still pending) for the request's Idempotency-Key, both with the new rows. The route
 * answers after the commit with `followUps.deliver(recorded)` in place of the pending operations.
 */
export async function commitCreated<T extends object>(c: Context, m: EntityManager, json: T, items: FollowUp[]): Promise<{ answer: T; recorded: Recorded[] }> {
  const answer = { ...json, operations: pendingOperations(items) };
  await keepAnswer(c, m, 201, answer);
  return { answer, recorded: await recordFollowUps(m, items) };
}
