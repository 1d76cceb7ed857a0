import { describe, expect, it } from 'vitest';
import { ADDRESS_LOCATION, EVENT_COLLECTION, eventRecord, type PublishableEvent } from '../../src/domain/lexicon.ts';
import { eventFromRecord } from '../../src/domain/ingest.ts';

const base: PublishableEvent = {
  slug: 'meetup-abc123', name: 'Meetup', description: null, startAt: new Date('2027-03-01T18:00:00Z'), endAt: new Date('2027-03-01T20:00:00Z'),
  createdAt: new Date('2027-01-01T00:00:00Z'), status: 'published', location: null, country: null, onlineUrl: null, seriesSlug: null,
};
const URI = `#uri`;
const did = 'did:plc:abcdefghijklmnopqrstuvwx';

describe('the event record\'s locations', () => {
  it('an in-person event publishes its place as an address; a hybrid one the place and the link; a virtual one the link', () => {
    const inPerson = eventRecord({ ...base, location: 'Town Hall, Main St 1', country: 'DE' }, 'https://meetflow.example');
    expect(inPerson.mode).toBe(`${EVENT_COLLECTION}#inperson`);
    expect(inPerson.locations).toEqual([{ $type: ADDRESS_LOCATION, name: 'Town Hall, Main St 1', country: 'DE' }]);

    const hybrid = eventRecord({ ...base, location: 'Town Hall', country: 'DE', onlineUrl: 'https://meet.example/x' }, 'https://meetflow.example');
    expect(hybrid.mode).toBe(`${EVENT_COLLECTION}#hybrid`);
    expect(hybrid.locations).toEqual([
      { $type: ADDRESS_LOCATION, name: 'Town Hall', country: 'DE' },
      { $type: `${EVENT_COLLECTION}${URI}`, uri: 'https://meet.example/x' },
    ]);

    const virtual = eventRecord({ ...base, onlineUrl: 'https://meet.example/x' }, 'https://meetflow.example');
    expect(virtual.locations).toEqual([{ $type: `${EVENT_COLLECTION}${URI}`, uri: 'https://meet.example/x' }]);
    // No country: the lexicon's address needs one, so the place is named on the link only.
    const noCountry = eventRecord({ ...base, location: 'Somewhere', onlineUrl: 'https://meet.example/x' }, 'https://meetflow.example');
    expect(noCountry.locations).toEqual([{ $type: `${EVENT_COLLECTION}${URI}`, uri: 'https://meet.example/x', name: 'Somewhere' }]);
    // Nothing to say: no locations, and a stored list meetflow wrote before is dropped.
    expect(eventRecord(base, 'https://meetflow.example', { locations: [{ $type: ADDRESS_LOCATION, name: 'old', country: 'FR' }] })).not.toHaveProperty('locations');
  });

  it('an ingested record keeps place, country and link (the same shape read back)', () => {
    const record = eventRecord({ ...base, location: 'Town Hall', country: 'DE', onlineUrl: 'https://meet.example/x' }, 'https://other.example');
    const e = eventFromRecord(`at://${did}/${EVENT_COLLECTION}/3kabc`, 'bafycid', did, record);
    expect(e).toMatchObject({ location: 'Town Hall', country: 'DE', onlineUrl: 'https://meet.example/x' });
    const odd = eventFromRecord(`at://${did}/${EVENT_COLLECTION}/3kabd`, 'bafycid', did,
      { ...record, locations: [{ $type: ADDRESS_LOCATION, name: 'Somewhere', country: 'Germany' }] });
    expect(odd).toMatchObject({ location: 'Somewhere', country: null }); // not a code: no country, the event still comes in
  });
});
