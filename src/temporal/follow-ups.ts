import type { Client } from '@temporalio/client';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config.ts';
import { changedRows } from '../db/changed-rows.ts';
import type { RsvpResult } from '../domain/rsvp.ts';
import { operationId } from './operations.ts';
import { notifySeatsChanged, requestChatSync } from './signals.ts';

/**
 * Follow-ups through a transactional outbox (`follow_ups`): a change records the wake-ups it sets
 * in motion in its own transaction, so a commit never loses them; the relay delivers each to
 * Temporal at least once. Wake-ups are harmless when repeated (each is one more reconciliation
 * round against the current rows), so a delivery that is retried, or done by two relays, is fine.
 */
export type FollowUpType = 'waitlist' | 'chat-room';
export interface FollowUp { type: FollowUpType; slug: string }
/** What a caller is told: the operation, and whether it has been handed to Temporal yet. */
export interface FollowUpOperation { id: string; type: FollowUpType; pending?: true }

/** What an RSVP change sets in motion: a freed seat wakes the waitlist; a change of attendance, the chat room. */
function afterRsvp(config: Pick<Config, 'CHAT_ENABLED'>, eventSlug: string, result: RsvpResult): FollowUp[] {
  const out: FollowUp[] = [];
  if (result.seatFreed) out.push({ type: 'waitlist', slug: eventSlug });
  if (result.changed && result.chatEnabled && config.CHAT_ENABLED) out.push({ type: 'chat-room', slug: eventSlug });
  return out;
}

/** Records follow-ups inside the change's transaction; answers their row ids. */
async function recordFollowUps(m: EntityManager, items: FollowUp[]): Promise<string[]> {
  if (!items.length) return [];
  const rows: { id: string }[] = await m.query(
    `INSERT INTO follow_ups (type, slug) SELECT * FROM unnest($1::text[], $2::text[]) RETURNING id`,
    [items.map((i) => i.type), items.map((i) => i.slug)]);
  return rows.map((r) => String(r.id));
}

const BATCH = 100;
const LEASE_S = 30;
const DELIVER_TIMEOUT_MS = 5000;

export function followUpRelay({ ds, temporal, config }: { ds: DataSource; temporal: Client; config: Config }) {
  const send = (f: FollowUp) => temporal.connection.withDeadline(Date.now() + DELIVER_TIMEOUT_MS, () =>
    f.type === 'waitlist' ? notifySeatsChanged(temporal, config, f.slug) : requestChatSync(temporal, config, { kind: 'event', slug: f.slug }));

  /**
   * Delivers the given rows now (or every due row): each is leased first (so two relays rarely
   * both send it), sent, and deleted; a failure puts it back with backoff (1 s doubling to 5 min).
   */
  async function deliver(ids?: string[]): Promise<FollowUpOperation[]> {
    if (ids && !ids.length) return [];
    const leased = await changedRows<FollowUp & { id: string }>(ds,
      `UPDATE follow_ups SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
        WHERE id IN (SELECT id FROM follow_ups WHERE ${ids ? 'id = ANY($1::bigint[])' : 'next_attempt_at <= now() AND $1::bigint[] IS NULL'}
                      ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING id, type, slug`, [ids ?? null, LEASE_S]);
    leased.sort((a, b) => Number(a.id) - Number(b.id)); // in the order they were recorded
    return Promise.all(leased.map(async (f) => {
      try {
        await send(f);
        await ds.query(`DELETE FROM follow_ups WHERE id = $1`, [f.id]);
        return { id: operationId(f.type, f.slug), type: f.type };
      } catch (err) {
        await ds.query(
          `UPDATE follow_ups SET last_error = $2, next_attempt_at = now() + make_interval(secs => least(power(2, attempts - 1), 300))
            WHERE id = $1`, [f.id, (err as Error).message.slice(0, 500)]).catch(() => undefined);
        return { id: operationId(f.type, f.slug), type: f.type, pending: true as const };
      }
    }));
  }

  /** Delivers what is due every second until stopped (API and worker each run one). */
  function start(): () => Promise<void> {
    let running = true;
    let current: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      if (!running || !ds.isInitialized) return;
      current = current.then(() => deliver()).catch((err: Error) => console.warn('follow-up relay:', err.message));
    }, 1000);
    return async () => { running = false; clearInterval(timer); await current; };
  }

  /**
   * The follow-ups of one RSVP change: pass `andThen` to `rsvp()` (it records them in the RSVP's
   * transaction), then `deliver()` after the commit.
   */
  function forRsvp(eventSlug: string) {
    const recorded: string[] = [];
    return {
      andThen: async (m: EntityManager, result: RsvpResult) => { recorded.push(...await recordFollowUps(m, afterRsvp(config, eventSlug, result))); },
      deliver: () => deliver(recorded),
    };
  }

  return { deliver, forRsvp, start };
}
