import type { Client } from '@temporalio/client';
import { log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import type { FollowUpRelay } from '../follow-ups/outbox.ts';
import { publishes, type FollowUp, type FollowUpType } from '../follow-ups/rules.ts';
import { lastOccurrence } from '../domain/recurrence.ts';
import { startOperation } from '../temporal/client.ts';
import type { OperationInput, OperationType } from '../temporal/contracts.ts';

/** What one reconciliation repaired, by kind (each at most `limit`). */
export interface ReconcileReport {
  waitlists: number; chatRooms: number; publications: number; seriesPublications: number; materializers: number;
  deletions: number; examples: string[];
}

/**
 * Divergence that slipped through anyway (a follow-up lost before the outbox existed, an operator's
 * terminate, a bug), each as a query for the rows that show it and the follow-up that repairs it.
 * Repairs are the ordinary wake-ups, harmless when the workflow is already on it.
 */
const FOLLOW_UP_CHECKS: { type: FollowUpType; report: Exclude<keyof ReconcileReport, 'materializers' | 'deletions' | 'examples'>; sql: string; chat?: true; kind?: 'group' }[] = [
  { // a free seat while people wait
    type: 'waitlist', report: 'waitlists', sql: `
      SELECT e.slug FROM events e
       WHERE e.status = 'published' AND e.capacity IS NOT NULL
         AND EXISTS (SELECT 1 FROM attendees a WHERE a.event_id = e.id AND a.status = 'waitlisted')
         AND (SELECT count(*) FROM attendees a WHERE a.event_id = e.id AND a.status = 'confirmed') < e.capacity
       LIMIT $1` },
  { // a chat-enabled event that has not ended, without its room
    type: 'chat-room', report: 'chatRooms', chat: true, sql: `
      SELECT e.slug FROM events e
       WHERE e.chat_enabled AND e.status = 'published' AND e.end_at > now()
         AND NOT EXISTS (SELECT 1 FROM chat_rooms c WHERE c.event_id = e.id AND c.status = 'active')
       LIMIT $1` },
  { // a chat-enabled group without its room
    type: 'chat-room', report: 'chatRooms', chat: true, kind: 'group', sql: `
      SELECT g.slug FROM groups g
       WHERE g.chat_enabled AND g.status = 'active'
         AND NOT EXISTS (SELECT 1 FROM chat_rooms c WHERE c.group_id = g.id AND c.status = 'active')
       LIMIT $1` },
  { // a publishable single event without its record
    type: 'bsky-publish', report: 'publications', sql: `
      SELECT e.slug FROM events e JOIN users u ON u.id = e.owner_id
       WHERE ${publishes('e', 'u')}
         AND e.source_type IS NULL AND e.series_slug IS NULL AND e.visibility = 'public'
         AND e.status = 'published' AND e.bluesky_uri IS NULL AND e.end_at > now()
       LIMIT $1` },
  { // a publishing series with an upcoming occurrence and no record for any upcoming one
    type: 'bsky-publish-series', report: 'seriesPublications', sql: `
      SELECT s.slug FROM event_series s JOIN events t ON t.id = s.template_event_id JOIN users u ON u.id = s.owner_id
       WHERE s.status = 'active' AND ${publishes('t', 'u')}
         AND EXISTS (SELECT 1 FROM events e WHERE e.series_slug = s.slug AND e.status = 'published' AND e.end_at > now())
         AND NOT EXISTS (SELECT 1 FROM events e WHERE e.series_slug = s.slug AND e.bluesky_uri IS NOT NULL AND e.end_at > now())
       LIMIT $1` },
];

/** A table whose tombstones (status `deleting`) the operation of `type` finishes. */
function tombstones<T extends OperationType>(table: string, type: T, input: (slug: string) => OperationInput<T>) {
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
    const rows: { slug: string; rrule: string; dtstart: Date; time_zone: string; materialized_until: Date | null }[] = await ds.query(
      `SELECT slug, rrule, dtstart, time_zone, materialized_until FROM event_series
        WHERE status = 'active' AND (materialized_until IS NULL OR materialized_until < now() + make_interval(days => $2))
        ORDER BY materialized_until NULLS FIRST LIMIT $1`, [limit, Math.max(0, config.SERIES_HORIZON_DAYS - 2)]);
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
      const rows: { slug: string }[] = await ds.query(
        `SELECT slug FROM ${t.table} WHERE status = 'deleting' AND updated_at < now() - make_interval(mins => $2) LIMIT $1`, [limit, staleMinutes]);
      for (const { slug } of rows) {
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
        const rows: { slug: string }[] = await ds.query(check.sql, [input.limit]);
        for (const { slug } of rows) repairs.push({ type: check.type, slug, ...(check.kind ? { detail: { kind: check.kind } } : {}) });
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
