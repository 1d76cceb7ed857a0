import { z } from 'zod';
import { handle, httpUrl, line, text } from './fields.ts';
import { isTimeZone, TIME_ZONE_PATTERN } from './time.ts';
import { ADDRESS_LOCATION, EVENT_COLLECTION, RSVP_COLLECTION } from './lexicon.ts';

/**
 * Events and RSVPs from elsewhere, in meetflow's terms: what the integration API accepts and what
 * the firehose consumer and the user sync make of lexicon records (api.md `ExternalEvent`).
 */
// At most 900 characters: `bsky-ingest:<uri>` is a workflow id, and Temporal takes 1000.
const atUri = z.string().max(900).regex(/^at:\/\/did:[a-z]+:[A-Za-z0-9._:%-]+\/[A-Za-z0-9.-]+\/[A-Za-z0-9._:~-]+$/, 'an AT-URI at://<did>/<collection>/<rkey>');
const did = z.string().max(300).regex(/^did:[a-z]+:[A-Za-z0-9._:%-]+$/, 'a DID');
const instant = z.string().datetime({ offset: true });
const cid = z.string().regex(/^[a-zA-Z0-9_-]{1,200}$/);

/** The DID whose repo holds a record: `at://<did>/…`. */
export const repoOf = (uri: string) => uri.slice('at://'.length).split('/')[0];

export const ExternalEventSchema = z.object({
  sourceType: z.literal('bluesky'),
  sourceId: atUri,
  sourceCid: cid.nullable().default(null),
  sourceUrl: httpUrl.nullable().default(null),
  creator: z.object({ did, handle: handle.nullable().default(null) }),
  name: line(300),
  description: text(10_000).nullable().default(null),
  startAt: instant,
  endAt: instant,
  timeZone: z.string().regex(TIME_ZONE_PATTERN).refine(isTimeZone, 'must be an IANA time zone').default('UTC'),
  location: line(500).nullable().default(null),
  country: z.string().regex(/^[A-Z]{2}$/).nullable().default(null),
  onlineUrl: httpUrl.nullable().default(null),
  status: z.enum(['published', 'cancelled']).default('published'),
}).refine((e) => Date.parse(e.endAt) >= Date.parse(e.startAt), { message: 'endAt must not be before startAt', path: ['endAt'] })
  // A record speaks only for its author: it must live in the creator's own repo.
  .refine((e) => repoOf(e.sourceId) === e.creator.did, { message: 'sourceId must be a record in creator.did\'s repo', path: ['sourceId'] });
export type ExternalEvent = z.infer<typeof ExternalEventSchema>;

export const ExternalRsvpSchema = z.object({
  sourceId: atUri,
  sourceCid: cid.nullable().default(null),
  eventSourceType: z.literal('bluesky').default('bluesky'),
  eventSourceId: atUri,
  userDid: did,
  userHandle: handle.nullable().default(null),
  status: z.enum(['interested', 'going', 'notgoing']),
}).refine((r) => repoOf(r.sourceId) === r.userDid, { message: 'sourceId must be a record in userDid\'s repo', path: ['sourceId'] });
export type ExternalRsvp = z.infer<typeof ExternalRsvpSchema>;

/** A record that cannot become an event or RSVP: it goes to the dead-letter table with `reason`. */
export class MalformedRecord extends Error {}

const eventRecord = z.object({
  name: z.string(),
  description: z.string().optional(),
  startsAt: instant,
  endsAt: instant.optional(),
  status: z.string().optional(),
  locations: z.array(z.record(z.string(), z.unknown())).optional(),
  uris: z.array(z.object({ uri: z.string(), name: z.string().optional() })).optional(),
}).passthrough();

const rsvpRecord = z.object({
  subject: z.object({ uri: atUri, cid: z.string().optional() }),
  status: z.enum([`${RSVP_COLLECTION}#interested`, `${RSVP_COLLECTION}#going`, `${RSVP_COLLECTION}#notgoing`]),
}).passthrough();

function parse<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new MalformedRecord(`${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Other apps' single-line text with line breaks or other controls: spaces instead (not a reason to lose the event). */
const oneLine = (t: string) => t.replace(/[\u0000-\u001f\u007f]+/g, ' ');

/** A `community.lexicon.calendar.event` record as an ExternalEvent. No end time: it ends when it starts. */
export function eventFromRecord(uri: string, cid: string, author: string, value: unknown): ExternalEvent {
  const r = parse(eventRecord, value, 'event record');
  const online = r.locations?.find((l) => l.$type === `${EVENT_COLLECTION}#uri` && typeof l.uri === 'string' && /^https?:\/\//i.test(l.uri));
  const place = r.locations?.find((l) => typeof l.name === 'string');
  const address = r.locations?.find((l) => l.$type === ADDRESS_LOCATION);
  return parse(ExternalEventSchema, {
    sourceType: 'bluesky', sourceId: uri, sourceCid: cid, sourceUrl: r.uris?.find((u) => /^https?:\/\//.test(u.uri))?.uri ?? null, creator: { did: author },
    name: oneLine(r.name), description: r.description ?? null, startAt: r.startsAt, endAt: r.endsAt ?? r.startsAt,
    location: typeof place?.name === 'string' ? oneLine(place.name) : null, onlineUrl: (online?.uri as string | undefined) ?? null,
    country: typeof address?.country === 'string' && /^[A-Z]{2}$/.test(address.country) ? address.country : null,
    status: r.status === `${EVENT_COLLECTION}#cancelled` ? 'cancelled' : 'published',
  }, 'event record');
}

/** A `community.lexicon.calendar.rsvp` record as an ExternalRsvp. */
export function rsvpFromRecord(uri: string, cid: string, author: string, value: unknown): ExternalRsvp {
  const r = parse(rsvpRecord, value, 'rsvp record');
  if (repoOf(uri) !== author) throw new MalformedRecord(`rsvp record: ${uri} is not in ${author}'s repo`);
  return {
    sourceId: uri, sourceCid: cid, eventSourceType: 'bluesky', eventSourceId: r.subject.uri, userDid: author, userHandle: null,
    status: r.status.slice(RSVP_COLLECTION.length + 1) as ExternalRsvp['status'],
  };
}

/** One change to hand to `bsky-ingest:<uri>`, in the order it happened. */
export type IngestOp =
  | { kind: 'event'; event: ExternalEvent }
  | { kind: 'event-delete'; sourceId: string }
  | { kind: 'rsvp'; rsvp: ExternalRsvp }
  | { kind: 'rsvp-delete'; sourceId: string };

/** One record's change in a firehose lane's batch (`bsky-ingest-lane`), in the order it was delivered. */
export interface LaneOp { uri: string; op: IngestOp }

/** A repository change (firehose or sync) as an ingest op; throws MalformedRecord. */
export function opFromRecord(change: { uri: string; collection: string; did: string; cid?: string; record?: unknown }): IngestOp {
  const deleted = change.record === undefined;
  if (change.collection === EVENT_COLLECTION) {
    return deleted ? { kind: 'event-delete', sourceId: change.uri } : { kind: 'event', event: eventFromRecord(change.uri, change.cid!, change.did, change.record) };
  }
  if (change.collection === RSVP_COLLECTION) {
    return deleted ? { kind: 'rsvp-delete', sourceId: change.uri } : { kind: 'rsvp', rsvp: rsvpFromRecord(change.uri, change.cid!, change.did, change.record) };
  }
  throw new MalformedRecord(`not a calendar collection: ${change.collection}`);
}
