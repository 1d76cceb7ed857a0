import { EntitySchema } from 'typeorm';

export interface EventSeries {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  /** RFC 5545 RRULE (without DTSTART; dtstart and timeZone are their own columns). */
  rrule: string;
  dtstart: Date;
  durationMinutes: number;
  timeZone: string;
  /** Occurrence zero; a deferrable FK guarantees it never points at a missing event. */
  templateEventId: string | null;
  ownerId: string;
  groupId: string | null;
  status: 'active' | 'deleting';
  materializedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SeriesException {
  id: string;
  seriesSlug: string;
  originalStart: Date;
  kind: 'modified' | 'cancelled' | 'deleted';
  eventId: string | null;
  overrides: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export const EventSeriesEntity = new EntitySchema<EventSeries>({
  name: 'EventSeries',
  tableName: 'event_series',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    slug: { type: 'text', unique: true },
    name: { type: 'text' },
    description: { type: 'text', nullable: true },
    rrule: { type: 'text' },
    dtstart: { type: 'timestamptz' },
    durationMinutes: { type: 'integer', name: 'duration_minutes' },
    timeZone: { type: 'text', name: 'time_zone' },
    templateEventId: { type: 'uuid', name: 'template_event_id', nullable: true },
    ownerId: { type: 'uuid', name: 'owner_id' },
    groupId: { type: 'uuid', name: 'group_id', nullable: true },
    status: { type: 'text', default: 'active' },
    materializedUntil: { type: 'timestamptz', name: 'materialized_until', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});

export const SeriesExceptionEntity = new EntitySchema<SeriesException>({
  name: 'SeriesException',
  tableName: 'series_exceptions',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    seriesSlug: { type: 'text', name: 'series_slug' },
    originalStart: { type: 'timestamptz', name: 'original_start' },
    kind: { type: 'text' },
    eventId: { type: 'uuid', name: 'event_id', nullable: true },
    overrides: { type: 'jsonb', default: {} },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});
