import { EntitySchema } from 'typeorm';

export type AttendeeStatus = 'confirmed' | 'waitlisted' | 'maybe' | 'cancelled';

/** The single source of truth for signups: counts are computed from these rows. */
export interface Attendee {
  id: string;
  eventId: string;
  userId: string;
  status: AttendeeStatus;
  role: 'host' | 'participant';
  /** Set when the row becomes waitlisted; waitlist order is (waitlistedAt, id). */
  waitlistedAt: Date | null;
  sourceId: string | null;
  sourceCid: string | null;
  blueskyUri: string | null;
  blueskyCid: string | null;
  blueskyRkey: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const AttendeeEntity = new EntitySchema<Attendee>({
  name: 'Attendee',
  tableName: 'attendees',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    eventId: { type: 'uuid', name: 'event_id' },
    userId: { type: 'uuid', name: 'user_id' },
    status: { type: 'text' },
    role: { type: 'text', default: 'participant' },
    waitlistedAt: { type: 'timestamptz', name: 'waitlisted_at', nullable: true },
    sourceId: { type: 'text', name: 'source_id', nullable: true },
    sourceCid: { type: 'text', name: 'source_cid', nullable: true },
    blueskyUri: { type: 'text', name: 'bluesky_uri', nullable: true },
    blueskyCid: { type: 'text', name: 'bluesky_cid', nullable: true },
    blueskyRkey: { type: 'text', name: 'bluesky_rkey', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});
