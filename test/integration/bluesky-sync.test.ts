import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtpAgent } from '@atproto/api';
import { TID } from '@atproto/common-web';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { createActivities } from '../../src/activities/index.ts';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../../src/domain/lexicon.ts';
import { eventually, type Stack } from '../helpers/stack.ts';
import { appPasswordLogin, pdsAccount, startPdsStack } from '../helpers/pds.ts';

// A user's PDS and meetflow each hold records the other lacks; the sync after login reconciles
// both ways, and a second sync changes nothing (no ping-pong).
let net: TestNetworkNoAppView;
let s: Stack;
beforeAll(async () => { ({ net, s } = await startPdsStack()); }, 120_000);
afterAll(async () => { await s?.close(); await net?.close(); });

const account = (handle: string) => pdsAccount(net, handle);
const login = async (handle: string) => (await appPasswordLogin(s, handle)).body;
const list = async (agent: AtpAgent, collection: string) => {
  const out: { uri: string; cid: string }[] = [];
  let cursor: string | undefined;
  do {
    const { data } = await agent.com.atproto.repo.listRecords({ repo: agent.session!.did, collection, limit: 100, cursor });
    out.push(...data.records.map((r) => ({ uri: r.uri, cid: r.cid })));
    cursor = data.records.length ? data.cursor : undefined;
  } while (cursor);
  return out;
};
const done = (token: string, id: string) => s.finished(id, token, { timeoutMs: 60_000 });

describe('user sync (bsky-sync:<did>)', () => {
  it('reconciles 50 events and 50 RSVPs both ways after login; a second sync changes nothing; the PDS wins over a local edit of an ingested event, meetflow over an edit of its own record elsewhere', async () => {
    // Another app wrote 30 events and 30 RSVPs (to those events) into Quinn's repository.
    const quinn = await account('quinn.test');
    const did = quinn.session!.did;
    const foreign: { uri: string; cid: string }[] = [];
    for (let i = 0; i < 30; i++) {
      foreign.push((await quinn.com.atproto.repo.putRecord({ repo: did, collection: EVENT_COLLECTION, rkey: TID.nextStr(), validate: false, record: {
        $type: EVENT_COLLECTION, name: `Elsewhere ${i}`, createdAt: new Date().toISOString(), startsAt: '2027-03-01T18:00:00.000Z', endsAt: '2027-03-01T19:00:00.000Z',
      } })).data);
    }
    for (const [i, e] of foreign.entries()) {
      await quinn.com.atproto.repo.putRecord({ repo: did, collection: RSVP_COLLECTION, rkey: TID.nextStr(), validate: false, record: {
        $type: RSVP_COLLECTION, subject: e, status: `${RSVP_COLLECTION}#${i % 2 ? 'going' : 'interested'}`, createdAt: new Date().toISOString(),
      } });
    }

    // meetflow has 20 events of Quinn and 20 RSVPs of hers to published events of Rhea, all from before she connected.
    await account('rhea.test');
    const rhea = await login('rhea.test');
    const rheaEvents: string[] = [];
    for (let i = 0; i < 20; i++) {
      rheaEvents.push((await s.api('POST', '/v1/events', { token: rhea.token, body: {
        name: `Rhea ${i}`, startAt: '2027-04-01T18:00:00Z', endAt: '2027-04-01T19:00:00Z', timeZone: 'UTC',
      } })).body.slug);
    }
    await eventually(async () => (await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE slug = ANY($1) AND bluesky_cid IS NOT NULL`, [rheaEvents]))[0].n === 20);
    const local = await s.user('Quinn');
    await s.ds.query(`UPDATE users SET did = $2, handle = 'quinn.test', pds_url = $3, provider = 'bluesky' WHERE id = $1`, [local.id, did, net.pds.url]);
    for (let i = 0; i < 20; i++) {
      await s.event(local.token, { name: `Quinn's ${i}` });
      await s.api('POST', `/v1/events/${rheaEvents[i]}/attendees`, { token: local.token, body: { status: 'going' } });
    }

    const first = await login('quinn.test');
    expect(first.user.id).toBe(local.id);
    const op = first.operations.find((o: { type: string }) => o.type === 'bsky-sync');
    expect(op.id).toBe(`bsky-sync:${did}`);
    const sync = await done(first.token, op.id);
    expect(sync.status).toBe('completed');
    expect(sync.result.fromPds).toMatchObject({ created: 60 });
    expect(sync.result.toPds).toEqual({ events: 20, series: 0, rsvps: 20 });

    // meetflow now has all 50 of each; the PDS gets all 50 of each (published by their workflows).
    const [mine] = await s.ds.query(
      `SELECT (SELECT count(*) FROM events WHERE owner_id = $1)::int AS events, (SELECT count(*) FROM attendees WHERE user_id = $1)::int AS rsvps`, [local.id]);
    expect(mine).toEqual({ events: 50, rsvps: 50 });
    await eventually(async () => (await list(quinn, EVENT_COLLECTION)).length === 50 && (await list(quinn, RSVP_COLLECTION)).length === 50, { timeoutMs: 60_000 });
    await eventually(async () => (await s.ds.query(
      `SELECT count(*)::int AS n FROM attendees WHERE user_id = $1 AND bluesky_cid IS NOT NULL`, [local.id]))[0].n === 20);

    // Again: nothing to ingest, nothing to publish, no record rewritten.
    const before = [...await list(quinn, EVENT_COLLECTION), ...await list(quinn, RSVP_COLLECTION)];
    const again = await s.api('POST', '/v1/me/bluesky/sync', { token: first.token });
    expect(again.status).toBe(202);
    const second = await done(first.token, again.body.id);
    expect(second.result.fromPds).toEqual({ unchanged: 100 });
    expect(second.result.toPds).toEqual({ events: 0, series: 0, rsvps: 0 });
    expect([...await list(quinn, EVENT_COLLECTION), ...await list(quinn, RSVP_COLLECTION)]).toEqual(before);

    // An ingested event edited in meetflow: its record is the truth, the next sync puts it back.
    const [edited] = await s.ds.query(`SELECT slug, name FROM events WHERE source_id = $1`, [foreign[0].uri]);
    expect((await s.api('PATCH', `/v1/events/${edited.slug}`, { token: first.token, body: { name: 'Renamed here' } })).status).toBe(200);
    const third = await done(first.token, (await s.api('POST', '/v1/me/bluesky/sync', { token: first.token })).body.id);
    expect(third.result.fromPds).toEqual({ unchanged: 99, updated: 1 });
    expect((await s.ds.query(`SELECT name FROM events WHERE slug = $1`, [edited.slug]))[0].name).toBe(edited.name);

    // One of meetflow's records edited on the PDS by another app: meetflow's version goes back.
    const [own] = await s.ds.query(`SELECT name, bluesky_uri, bluesky_cid FROM events WHERE owner_id = $1 AND source_type IS NULL LIMIT 1`, [local.id]);
    const rkey = own.bluesky_uri.split('/').pop();
    const current = await quinn.com.atproto.repo.getRecord({ repo: did, collection: EVENT_COLLECTION, rkey });
    await quinn.com.atproto.repo.putRecord({ repo: did, collection: EVENT_COLLECTION, rkey, validate: false, swapRecord: current.data.cid,
      record: { ...(current.data.value as object), name: 'Edited elsewhere' } });
    const fourth = await done(first.token, (await s.api('POST', '/v1/me/bluesky/sync', { token: first.token })).body.id);
    expect(fourth.result.fromPds).toEqual({ unchanged: 99, republished: 1 });
    await eventually(async () => ((await quinn.com.atproto.repo.getRecord({ repo: did, collection: EVENT_COLLECTION, rkey })).data.value as { name: string }).name === own.name);

    // A burst of requests (a hostile or impatient client): one operation; those arriving during a
    // pass share one more pass, so a run makes at most two passes, whatever the burst's size.
    const burst = await Promise.all(Array.from({ length: 20 }, () => s.api('POST', '/v1/me/bluesky/sync', { token: first.token })));
    expect(burst.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(new Set(burst.map((r) => r.body.id))).toEqual(new Set([`bsky-sync:${did}`]));
    const afterBurst = await done(first.token, burst[0].body.id);
    const seen = Object.values(afterBurst.result.fromPds as Record<string, number>).reduce((a, b) => a + b, 0);
    expect([100, 200]).toContain(seen); // each pass reads the 100 records once

    const stranger = await s.user('Not connected');
    expect((await s.api('POST', '/v1/me/bluesky/sync', { token: stranger.token })).body.error.code).toBe('bluesky_not_connected');
  });

  it('a listing taken before a publication does not unpublish the event: its URI stays while the record is written again', async () => {
    const ivy = await account('ivy.test');
    const { token } = await login('ivy.test');
    const { slug } = (await s.api('POST', '/v1/events', { token, body: {
      name: 'Raced', startAt: '2027-08-01T18:00:00Z', endAt: '2027-08-01T20:00:00Z', timeZone: 'UTC', publishToBluesky: true,
    } })).body;
    const uri = await eventually(async () => (await s.api('GET', `/v1/events/${slug}`, { token })).body.bluesky?.uri as string | undefined);
    // The sync's listing was taken before this record existed (listed: nothing).
    await createActivities({ ds: s.ds, redis: s.redis, temporal: s.temporal, config: s.config, matrix: null })
      .publishMissing({ did: ivy.session!.did, listed: [] });
    expect((await s.ds.query(`SELECT bluesky_uri FROM events WHERE slug = $1`, [slug]))[0].bluesky_uri).toBe(uri);
    await eventually(async () => (await list(ivy, EVENT_COLLECTION)).some((r) => r.uri === uri)); // one record, same URI
    expect((await list(ivy, EVENT_COLLECTION)).filter((r) => r.uri.endsWith(uri.split('/').pop()!))).toHaveLength(1);
  });
});
