import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Occurrences now take their template's roles (the materializer declares them), and roles declared
 * on an occurrence make it an exception. Roles declared on an occurrence before that, which differ
 * from its template's, were not recorded as an exception: they are now, so the materializer keeps
 * them as their organizers set them.
 */
export class OccurrenceRolesExceptions1764000000017 implements MigrationInterface {
  name = 'OccurrenceRolesExceptions1764000000017';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      INSERT INTO series_exceptions (series_slug, original_start, kind, event_id, overrides)
      SELECT e.series_slug, e.original_start, 'modified', e.id,
             jsonb_build_object('roles', (SELECT jsonb_agg(jsonb_build_object('name', r.name, 'capacity', r.capacity) ORDER BY r.position)
                                            FROM event_roles r WHERE r.event_id = e.id))
        FROM events e JOIN event_series s ON s.slug = e.series_slug
       WHERE e.id <> s.template_event_id AND e.original_start IS NOT NULL
         AND EXISTS (SELECT name, capacity, position FROM event_roles WHERE event_id = e.id
                     EXCEPT SELECT name, capacity, position FROM event_roles WHERE event_id = s.template_event_id)
      ON CONFLICT (series_slug, original_start) DO NOTHING`);
  }

  async down(): Promise<void> {
    // The exceptions stay: they describe what organizers did.
  }
}
