import { EntitySchema } from 'typeorm';

export type EventStatus = 'draft' | 'published' | 'cancelled' | 'deleting';

export interface Event {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  startAt: Date;
  endAt: Date;
  timeZone: string;
  /** `deleting` is the tombstone a cascade deletion sets first: hidden from reads, no RSVPs. */
  status: EventStatus;
  visibility: 'public' | 'private';
  ownerId: string;
  groupId: string | null;
  seriesSlug: string | null;
  originalStart: Date | null;
  /** null means unlimited. */
  capacity: number | null;
  chatEnabled: boolean;
  location: string | null;
  onlineUrl: string | null;
  /** ISO 3166-1 alpha-2, for the published place. */
  country: string | null;
  /** true: publish; false: never (opted out); null: as the owner's auto-publish preference says. */
  publishToBluesky: boolean | null;
  sourceType: string | null;
  sourceId: string | null;
  sourceUrl: string | null;
  sourceCid: string | null;
  sourceRkey: string | null;
  sourceDid: string | null;
  blueskyUri: string | null;
  blueskyCid: string | null;
  blueskyRkey: string | null;
  blueskyPublishedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const text = (name: string) => ({ type: 'text' as const, name, nullable: true });

export const EventEntity = new EntitySchema<Event>({
  name: 'Event',
  tableName: 'events',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    slug: { type: 'text', unique: true },
    name: { type: 'text' },
    description: text('description'),
    startAt: { type: 'timestamptz', name: 'start_at' },
    endAt: { type: 'timestamptz', name: 'end_at' },
    timeZone: { type: 'text', name: 'time_zone' },
    status: { type: 'text', default: 'published' },
    visibility: { type: 'text', default: 'public' },
    ownerId: { type: 'uuid', name: 'owner_id' },
    groupId: { type: 'uuid', name: 'group_id', nullable: true },
    seriesSlug: text('series_slug'),
    originalStart: { type: 'timestamptz', name: 'original_start', nullable: true },
    capacity: { type: 'integer', nullable: true },
    chatEnabled: { type: 'boolean', name: 'chat_enabled', default: false },
    location: text('location'),
    onlineUrl: text('online_url'),
    country: text('country'),
    publishToBluesky: { type: 'boolean', name: 'publish_to_bluesky', nullable: true },
    sourceType: text('source_type'),
    sourceId: text('source_id'),
    sourceUrl: text('source_url'),
    sourceCid: text('source_cid'),
    sourceRkey: text('source_rkey'),
    sourceDid: text('source_did'),
    blueskyUri: text('bluesky_uri'),
    blueskyCid: text('bluesky_cid'),
    blueskyRkey: text('bluesky_rkey'),
    blueskyPublishedAt: { type: 'timestamptz', name: 'bluesky_published_at', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});
