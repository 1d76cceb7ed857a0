import type { Client } from '@temporalio/client';
import { Histogram, type Registry } from 'prom-client';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config.ts';
import { operationId } from '../temporal/contracts.ts';
import {
  notifySeatsChanged, requestChatSync, requestLegacyPublish, requestMaterialization, requestPublish, requestRsvpPublish, requestSeriesPublish, requestSync, requestUnpublish,
} from '../temporal/signals.ts';
import type { FollowUp, FollowUpType } from './rules.ts';
import { backOff, deleteFollowUp, insertFollowUps, leaseDue, makeDue, makeFailedDue } from '../db/follow-ups.ts';
import { log } from '../logger.ts';

/**
 * The transactional outbox (`follow_ups`): a change records the follow-ups it sets in motion in
 * its own transaction, so a commit never loses them; the relay delivers each to Temporal at least
 * once. Every delivery is a start-or-signal of `<type>:<slug>`, harmless when repeated (one more
 * reconciliation round against the current rows), so a retried delivery, or one done by two
 * relays, is fine.
 */
const LEASE_S = 30;

/** What a caller is told: the operation, and whether it has been handed to Temporal yet. */
export interface FollowUpOperation { id: string; type: FollowUpType; pending?: true }

/** A follow-up recorded by this process, with its row id and when (for `deliver`). */
export type Recorded = FollowUp & { id: string; recordedAt: number };

/**
 * Records follow-ups inside the change's transaction. They are recorded leased (for LEASE_S): the
 * caller delivers them right after the commit, and the relay only takes them over if it does not.
 */
export async function recordFollowUps(m: EntityManager, items: FollowUp[]): Promise<Recorded[]> {
  if (!items.length) return [];
  const ids = await insertFollowUps(m, items, LEASE_S);
  const recordedAt = Date.now();
  return ids.map((id, i) => ({ ...items[i], id, recordedAt }));
}

/** The operations these follow-ups run as, all pending (for an answer written before delivery). */
export const pendingOperations = (items: FollowUp[]): FollowUpOperation[] =>
  items.map((f) => ({ id: operationId(f.type, f.slug), type: f.type, pending: true }));

const BATCH = 100;
const DELIVER_TIMEOUT_MS = 5000;
/** After a failed delivery, writes leave their follow-ups to the relay for this long (no 5 s wait each). */
const BACK_OFF_MS = 5000;

export function followUpRelay({ ds, temporal, config, registry }: { ds: DataSource; temporal: Client; config: Config; registry?: Registry }) {
  const lag = new Histogram({
    name: 'meetflow_follow_up_delivery_lag_seconds', help: 'From the commit that recorded a follow-up to its delivery to Temporal',
    labelNames: ['type'], registers: registry ? [registry] : [], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
  });

  function send(f: FollowUp): Promise<unknown> {
    const c = temporal; const d = f.detail ?? {};
    const calls: Record<FollowUpType, () => Promise<unknown>> = {
      waitlist: () => notifySeatsChanged(c, config, f.slug),
      'chat-room': () => requestChatSync(c, config, { kind: d.kind ?? 'event', slug: f.slug }),
      series: () => requestMaterialization(c, config, f.slug),
      'bsky-publisher': () => requestPublish(c, config, f.slug, d.eventSlug!),
      'bsky-publish': () => requestLegacyPublish(c, config, f.slug),
      'bsky-publish-series': () => requestSeriesPublish(c, config, f.slug),
      'bsky-rsvp': () => requestRsvpPublish(c, config, f.slug.split('/')[0], { id: d.userId!, slug: f.slug.split('/')[1] }),
      'bsky-sync': () => requestSync(c, config, f.slug),
      'bsky-unpublish': () => requestUnpublish(c, config, f.slug),
    };
    return temporal.connection.withDeadline(Date.now() + DELIVER_TIMEOUT_MS, calls[f.type]);
  }

  let unreachableUntil = 0;
  /** Set by a failed delivery; the next one that works brings the rows that failed meanwhile forward. */
  let recovering = false;

  /**
   * Delivers the given follow-ups now (or every due row, leased first so two relays rarely both
   * send it): each is sent and deleted; a failure puts it back with backoff (1 s doubling to
   * 5 min). Right after a failure, given ones are left to the relay's loop (which keeps probing).
   */
  async function deliver(given?: Recorded[]): Promise<FollowUpOperation[]> {
    if (given && !given.length) return [];
    if (given && Date.now() < unreachableUntil) {
      await makeDue(ds, given.map((f) => f.id));
      return pendingOperations(given);
    }
    const rows = given ?? (await leaseDue(ds, BATCH, LEASE_S) as (FollowUp & { id: string; age: number })[])
      .sort((a, b) => Number(a.id) - Number(b.id)) // in the order they were recorded
      .map((f) => ({ ...f, recordedAt: Date.now() - f.age * 1000 }));
    return Promise.all(rows.map(async (f) => {
      const op = { id: operationId(f.type, f.slug), type: f.type };
      try {
        await send(f);
        // Not waited for: the answer needs the hand-off, not the bookkeeping. Until the row is gone
        // its lease keeps relays off it; a delete that fails leaves one more harmless delivery.
        void deleteFollowUp(ds, f.id).catch((err: Error) => log.warn({ err, id: f.id }, 'delivered follow-up not deleted; it will be delivered again'));
        lag.observe({ type: f.type }, (Date.now() - f.recordedAt) / 1000);
        if (recovering) {
          // Temporal answers again: what backed off during the outage (up to 5 min) is due now, not later.
          recovering = false;
          await makeFailedDue(ds);
        }
        return op;
      } catch (err) {
        unreachableUntil = Date.now() + BACK_OFF_MS;
        recovering = true;
        await backOff(ds, f.id, (err as Error).message).catch(() => undefined);
        return { ...op, pending: true as const };
      }
    }));
  }

  /** Records follow-ups in a transaction of their own and delivers them (for activities). */
  async function now(items: FollowUp[]): Promise<FollowUpOperation[]> {
    return deliver(await ds.transaction((m) => recordFollowUps(m, items)));
  }

  /** Delivers what is due every second until stopped (API and worker each run one). */
  function start(): () => Promise<void> {
    let running = true;
    let current: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      if (!running || !ds.isInitialized) return;
      current = current.then(() => deliver()).catch((err: Error) => log.warn({ err }, 'follow-up relay pass failed'));
    }, 1000);
    return async () => { running = false; clearInterval(timer); await current; };
  }

  return { deliver, now, start };
}

export type FollowUpRelay = ReturnType<typeof followUpRelay>;
