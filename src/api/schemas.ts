import { z } from '@hono/zod-openapi';
import { datetime, followUpOperations, link, name, text, timeZone } from './fields.ts';

// The request and response shapes more than one route file uses: one definition each.

const Counts = z.object({ confirmed: z.number(), waitlisted: z.number(), maybe: z.number() });
export const EventSchema = z.object({
  slug: z.string(), name: z.string(), description: z.string().nullable(),
  startAt: z.string(), endAt: z.string(), timeZone: z.string(),
  status: z.enum(['draft', 'published', 'cancelled']), ownerId: z.string().uuid(),
  groupSlug: z.string().nullable(), seriesSlug: z.string().nullable(),
  capacity: z.number().nullable(), chatEnabled: z.boolean(),
  publishToBluesky: z.boolean().nullable().openapi({ description: 'true: publish; false: never (this event opts out); null: as the owner\'s auto-publish preference says' }),
  location: z.string().nullable(), country: z.string().nullable(), onlineUrl: z.string().nullable(),
  attendeeCounts: Counts,
  roles: z.array(z.object({ name: z.string(), capacity: z.number().nullable(), attendeeCounts: Counts }))
    .openapi({ description: 'the roles the event declares (capacity and waitlist per role), with their counts; empty: one capacity for the event' }),
  bluesky: z.object({ uri: z.string(), cid: z.string().nullable() }).nullable(),
  operations: followUpOperations.optional(),
}).openapi('Event');

export const editable = {
  name: name(200),
  description: text(50_000).nullable(),
  startAt: datetime, endAt: datetime, timeZone,
  capacity: z.number().int().min(0).max(1_000_000).nullable(),
  chatEnabled: z.boolean(), publishToBluesky: z.boolean().nullable(),
  location: name(500).nullable(), onlineUrl: link.nullable(),
  country: z.string().regex(/^[A-Z]{2}$/).nullable()
    .openapi({ description: 'ISO 3166-1 alpha-2 country of the location: with it an in-person event publishes its place on Bluesky', example: 'DE' }),
  status: z.enum(['draft', 'published', 'cancelled']),
};
export const UserSchema = z.object({
  id: z.string().uuid(), slug: z.string(), displayName: z.string(), handle: z.string().nullable(),
  did: z.string().nullable(), avatarUrl: z.string().nullable(), isShadowAccount: z.boolean(), createdAt: z.string(),
}).openapi('User');

export const RsvpAnswer = z.object({
  status: z.enum(['confirmed', 'waitlisted', 'maybe', 'cancelled']),
  role: z.string().nullable().openapi({ description: 'the registration\'s role, on an event that declares roles' }),
  waitlistPosition: z.number().int().optional(),
  operations: followUpOperations,
}).openapi('RsvpAnswer');

export const OperationSchema = z.object({
  id: z.string().openapi({ example: 'waitlist:summer-picnic-k3x9qa' }),
  type: z.string(),
  status: z.enum(['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out']),
  entity: z.object({ kind: z.string(), slug: z.string() }),
  startedAt: z.string(),
  closedAt: z.string().nullable(),
  progress: z.unknown().nullable(),
  result: z.unknown().nullable(),
  error: z.object({ type: z.string(), message: z.string() }).nullable(),
  links: z.object({ self: z.string(), temporalUi: z.string() }),
}).openapi('Operation');
export type Operation = z.infer<typeof OperationSchema>;

