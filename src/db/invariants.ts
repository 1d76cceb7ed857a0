import type { DataSource, EntityManager } from 'typeorm';

/**
 * Structural promises the data must keep whatever any workflow did. Each query lists the rows
 * that break its promise; a healthy database answers every one with nothing.
 */
export const INVARIANTS: Record<string, string> = {
  'event linked to a missing series': `
    SELECT e.slug FROM events e LEFT JOIN event_series s ON s.slug = e.series_slug
     WHERE e.series_slug IS NOT NULL AND s.slug IS NULL`,
  'series without its template event': `
    SELECT s.slug FROM event_series s LEFT JOIN events t ON t.id = s.template_event_id
     WHERE t.id IS NULL AND s.status <> 'deleting'`,
  'template event not linked to its series': `
    SELECT s.slug FROM event_series s JOIN events t ON t.id = s.template_event_id
     WHERE t.series_slug IS DISTINCT FROM s.slug`,
  'series occurrence without its original start': `
    SELECT slug FROM events WHERE series_slug IS NOT NULL AND original_start IS NULL`,
  // Beyond those a lowered capacity left confirmed (migration 1764000000018).
  'more confirmed attendees than capacity': `
    SELECT e.slug FROM events e JOIN attendees a ON a.event_id = e.id AND a.status = 'confirmed'
     WHERE e.capacity IS NOT NULL GROUP BY e.id, e.slug, e.capacity, e.confirmed_when_lowered
    HAVING count(*) > greatest(e.capacity, e.confirmed_when_lowered)`,
  'attendee tally that disagrees with the rows (migration 1764000000016 keeps them equal)': `
    SELECT e.slug FROM events e WHERE e.status <> 'deleting' AND e.id IN (
      SELECT event_id FROM (SELECT event_id, coalesce(registration_role, '') AS role, status, count(*)::int AS n FROM attendees GROUP BY 1, 2, 3) r
        FULL JOIN (SELECT * FROM attendee_tallies WHERE n <> 0) t USING (event_id, role, status)
       WHERE r.n IS DISTINCT FROM t.n)`,
  'ingested event published back (loop)': `
    SELECT slug FROM events WHERE source_type IS NOT NULL AND bluesky_uri IS NOT NULL`,
  'ingested RSVP published back (loop)': `
    SELECT e.slug FROM attendees a JOIN events e ON e.id = a.event_id WHERE a.source_id IS NOT NULL AND a.bluesky_uri IS NOT NULL`,
  'group whose owner_id is not one of its owners': `
    SELECT g.slug FROM groups g WHERE g.status = 'active' AND NOT EXISTS (
      SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = g.owner_id AND m.role = 'owner')`,
  'member still asking to join': `
    SELECT g.slug FROM group_join_requests r JOIN group_members m USING (group_id, user_id) JOIN groups g ON g.id = r.group_id`,
  'shadow account half claimed (journal left without a claimant)': `
    SELECT DISTINCT j.did AS slug FROM account_claim_journal j LEFT JOIN users u ON u.did = j.did AND u.claimed_by IS NOT NULL
     WHERE u.id IS NULL`,
};

export async function findViolations(q: DataSource | EntityManager): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const [name, sql] of Object.entries(INVARIANTS)) {
    const rows: { slug: string }[] = await q.query(`${sql} LIMIT 20`);
    if (rows.length) found[name] = rows.map((r) => r.slug);
  }
  return found;
}
