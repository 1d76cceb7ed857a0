import type { Client } from '@temporalio/client';
import { log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import type { FollowUpRelay } from '../follow-ups/outbox.ts';
import { type FollowUp, type FollowUpType } from '../follow-ups/rules.ts';
import { divergent, seriesShortOfHorizon, staleTombstones, type DIVERGENCE } from '../db/divergence.ts';
import { lastOccurrence } from '../domain/recurrence.ts';
import { startOperation } from '../temporal/client.ts';
import type { OperationInput, OperationType } from '../temporal/contracts.ts';

/** What one reconciliation repaired, by kind (each at most `limit`). */
export interface ReconcileReport {
  waitlists: number; chatRooms: number; publications: number; seriesPublications: number; materializers: number;
  deletions: number; examples: string[];
}

/** Each divergence, with the follow-up that repairs it. Repairs are the ordinary wake-ups, harmless when the workflow is already on it. */
const FOLLOW_UP_CHECKS: { check: keyof typeof DIVERGENCE; type: FollowUpType; report: Exclude<keyof ReconcileReport, 'materializers' | 'deletions' | 'examples'>; chat?: true; kind?: 'group' }[] = [
  { check: 'waitlists', type: 'waitlist', report: 'waitlists' },
  { check: 'eventRooms', type: 'chat-room', report: 'chatRooms', chat: true },
  { check: 'groupRooms', type: 'chat-room', report: 'chatRooms', chat: true, kind: 'group' },
  { check: 'publications', type: 'bsky-publisher', report: 'publications' },
  { check: 'seriesPublications', type: 'bsky-publish-series', report: 'seriesPublications' },
];

/** A table whose tombstones (status `deleting`) the operation of `type` finishes. */
function tombstones<T extends OperationType>(table: 'events' | 'event_series' | 'groups', type: T, input: (slug: string) => OperationInput<T>) {
  return { table, type, restart: (temporal: Client, config: Config, slug: string) => startOperation(temporal, config, type, slug, input(slug)) };
}

/** Tombstones whose deletion may have stopped: the operation that finishes each. */
const TOMBSTONES = [
  tombstones('events', 'delete-event', (slug) => ({ eventSlug: slug })),
  tombstones('event_series', 'delete-series', (slug) => ({ seriesSlug: slug, scope: 'all' })),
  tombstones('groups', 'delete-group', (slug) => ({ groupSlug: slug })),
];

export function reconcileActivities({ ds, temporal, config, followUps }: { ds: DataSource; temporal: Client; config: Config; followUps: FollowUpRelay }) {
  /**
   * Series whose horizon fell more than two days short (the daily top-up missed twice) and
   * whose rule has occurrences beyond it: their materializer is not running.
   */
  async function seriesBehind(limit: number): Promise<string[]> {
    const rows = await seriesShortOfHorizon(ds, Math.max(0, config.SERIES_HORIZON_DAYS - 2), limit);
    return rows.filter((s) => {
      if (!s.materialized_until) return true;
      const last = lastOccurrence({ rrule: s.rrule, dtstart: s.dtstart, timeZone: s.time_zone });
      return last === null || last > s.materialized_until;
    }).map((s) => s.slug);
  }

  /** Restarts the deletion of each tombstone older than `staleMinutes` whose operation is not running. */
  async function restartDeletions(limit: number, staleMinutes: number): Promise<string[]> {
    const restarted: string[] = [];
    for (const t of TOMBSTONES) {
      for (const slug of await staleTombstones(ds, t.table, staleMinutes, limit)) {
        const running = await temporal.workflow.getHandle(`${t.type}:${slug}`).describe().then((d) => d.status.name === 'RUNNING', () => false);
        if (!running) restarted.push(await t.restart(temporal, config, slug));
      }
    }
    return restarted;
  }

  return {
    /**
     * Finds divergence between the rows and the workflows that should act on them, and repairs
     * it: follow-ups through the outbox, and deletions that stopped are started again. Idempotent.
     */
    async reconcile(input: { limit: number; staleMinutes: number }): Promise<ReconcileReport> {
      const report: ReconcileReport = { waitlists: 0, chatRooms: 0, publications: 0, seriesPublications: 0, materializers: 0, deletions: 0, examples: [] };
      const repairs: FollowUp[] = [];
      for (const check of FOLLOW_UP_CHECKS) {
        if (check.chat && !config.CHAT_ENABLED) continue;
        const rows = await divergent(ds, check.check, input.limit);
        for (const { slug, event } of rows) {
          repairs.push({ type: check.type, slug, ...(check.kind ? { detail: { kind: check.kind } } : event ? { detail: { eventSlug: event } } : {}) });
        }
        report[check.report] += rows.length;
      }
      const behind = await seriesBehind(input.limit);
      repairs.push(...behind.map((slug): FollowUp => ({ type: 'series', slug })));
      report.materializers = behind.length;
      await followUps.now(repairs);
      const restarted = await restartDeletions(input.limit, input.staleMinutes);
      report.deletions = restarted.length;
      report.examples = [...repairs.map((f) => `${f.type}:${f.slug}`), ...restarted].slice(0, 20);
      if (repairs.length + restarted.length) log.warn('reconciliation repaired divergence', { ...report });
      return report;
    },
  };
}
