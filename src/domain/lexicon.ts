/** `community.lexicon.calendar.*` records, mapped from meetflow's rows (lessons-from-openmeet.md). */
import type { AttendeeStatus } from '../db/entities/attendee.ts';

export const EVENT_COLLECTION = 'community.lexicon.calendar.event';

export interface PublishableEvent {
  slug: string; name: string; description: string | null; startAt: Date; endAt: Date; createdAt: Date;
  status: string; location: string | null; country: string | null; onlineUrl: string | null; seriesSlug: string | null;
}

/**
 * The record for an event. Fields other apps wrote into the stored record are kept: it starts
 * from `stored` and replaces only the fields meetflow owns.
 */
export function eventRecord(e: PublishableEvent, publicBaseUrl: string, stored: Record<string, unknown> = {}): Record<string, unknown> {
  const mode = e.onlineUrl && e.location ? 'hybrid' : e.onlineUrl ? 'virtual' : 'inperson';
  const status = e.status === 'cancelled' ? 'cancelled' : e.status === 'draft' ? 'planned' : 'scheduled';
  const uris = [{ uri: `${publicBaseUrl}/events/${e.slug}`, name: 'meetflow' }];
  if (e.seriesSlug) uris.push({ uri: `${publicBaseUrl}/series/${e.seriesSlug}`, name: 'series' });
  const record: Record<string, unknown> = {
    ...stored,
    $type: EVENT_COLLECTION,
    name: e.name,
    createdAt: (stored.createdAt as string | undefined) ?? e.createdAt.toISOString(),
    startsAt: e.startAt.toISOString(),
    endsAt: e.endAt.toISOString(),
    mode: `${EVENT_COLLECTION}#${mode}`,
    status: `${EVENT_COLLECTION}#${status}`,
    uris,
  };
  if (e.description) record.description = e.description; else delete record.description;
  const locations = eventLocations(e);
  if (locations.length) record.locations = locations; else delete record.locations;
  return record;
}

export const ADDRESS_LOCATION = 'community.lexicon.location.address';

/**
 * The record's `locations`: the place, as an address (the lexicon requires its country, so a
 * place without one is published by name on the online link only, as before), and the online link.
 */
function eventLocations(e: PublishableEvent): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const place = e.location && e.country ? e.location : null;
  if (place) out.push({ $type: ADDRESS_LOCATION, name: place, country: e.country });
  if (e.onlineUrl) out.push({ $type: `${EVENT_COLLECTION}#uri`, uri: e.onlineUrl, ...(e.location && !place ? { name: e.location } : {}) });
  return out;
}

export const RSVP_COLLECTION = 'community.lexicon.calendar.rsvp';

/** api.md's mapping, publishing direction: a waitlisted person is still `going`. */
function rsvpStatus(status: AttendeeStatus): string {
  const s = status === 'maybe' ? 'interested' : status === 'cancelled' ? 'notgoing' : 'going';
  return `${RSVP_COLLECTION}#${s}`;
}

/** The RSVP record for an event record (strong ref), keeping fields of other apps. */
export function rsvpRecord(subject: { uri: string; cid: string }, status: AttendeeStatus, createdAt: Date, stored: Record<string, unknown> = {}) {
  return {
    ...stored,
    $type: RSVP_COLLECTION,
    subject,
    status: rsvpStatus(status),
    createdAt: (stored.createdAt as string | undefined) ?? createdAt.toISOString(),
  };
}
