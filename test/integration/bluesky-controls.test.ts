import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtpAgent } from '@atproto/api';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { ADDRESS_LOCATION, EVENT_COLLECTION, RSVP_COLLECTION } from '../../src/domain/lexicon.ts';
import { readProfile } from '../../src/bluesky/profile.ts';
import { sessionStore } from '../../src/bluesky/sessions.ts';
import { eventually, type Stack } from '../helpers/stack.ts';
import { appPasswordLogin, pdsAccount, PASSWORD, startPdsStack } from '../helpers/pds.ts';

// The user's Bluesky controls against a real PDS: the auto-publish preference, an event's own
// choice (opt in or out), the user's events list, and disconnecting.
let net: TestNetworkNoAppView;
let s: Stack;
beforeAll(async () => { ({ net, s } = await startPdsStack()); }, 120_000);
afterAll(async () => { await s?.close(); await net?.close(); });

const at = (day: number) => ({ startAt: `2027-07-${String(day).padStart(2, '0')}T18:00:00Z`, endAt: `2027-07-${String(day).padStart(2, '0')}T20:00:00Z`, timeZone: 'UTC' });
const uriOf = async (slug: string) => (await s.ds.query(`SELECT bluesky_uri FROM events WHERE slug = $1`, [slug]))[0]?.bluesky_uri as string | null;

describe('Bluesky controls', () => {
  it('auto-publish on or off, an event opting in or out; turning it on publishes what is missing; the events list shows drafts to their owner only', async () => {
    const agent = await pdsAccount(net, 'carol.test');
    const { token, user } = (await appPasswordLogin(s, 'carol.test')).body;
    const me = await s.api('GET', '/v1/me', { token });
    expect(me.body).toMatchObject({ slug: user.slug, blueskyConnected: true, blueskyAutoPublish: true });

    const create = async (name: string, day: number, extra: object = {}) => (await s.api('POST', '/v1/events', { token, body: { name, ...at(day), ...extra } })).body;
    const followed = await create('Follows the preference', 1);
    expect(followed.publishToBluesky).toBeNull();
    expect(followed.operations).toContainEqual({ id: `bsky-publisher:${user.id}`, type: 'bsky-publisher' }); // the owner's one publisher
    const optedOut = await create('Opted out', 2, { publishToBluesky: false });
    expect(optedOut.operations).toEqual([]);
    await eventually(async () => uriOf(followed.slug));

    const off = await s.api('PATCH', '/v1/me', { token, body: { blueskyAutoPublish: false } });
    expect(off.body).toMatchObject({ blueskyAutoPublish: false, operations: [] });
    const quiet = await create('Quiet', 3);
    expect(quiet.operations).toEqual([]);
    const optedIn = await create('Opted in', 4, { publishToBluesky: true });
    expect(optedIn.operations).toContainEqual({ id: `bsky-publisher:${user.id}`, type: 'bsky-publisher' });
    await eventually(async () => uriOf(optedIn.slug));

    // On again: the user's sync publishes what the preference now asks for, never the opted-out one.
    const on = await s.api('PATCH', '/v1/me', { token, body: { blueskyAutoPublish: true } });
    expect(on.body.operations).toEqual([{ id: `bsky-sync:${user.did}`, type: 'bsky-sync' }]);
    await eventually(async () => uriOf(quiet.slug));
    await s.finished(`bsky-sync:${user.did}`, token, { timeoutMs: 60_000 });
    expect(await uriOf(optedOut.slug)).toBeNull();
    const listed = await agent.com.atproto.repo.listRecords({ repo: user.did, collection: EVENT_COLLECTION });
    expect(listed.data.records.map((r) => (r.value as { name: string }).name).sort()).toEqual(['Follows the preference', 'Opted in', 'Quiet']);

    // The user's events list: in start order; a draft only for its owner.
    await create('Draft', 5, { status: 'draft' });
    const stranger = await s.user('Stranger');
    const mine = await s.api('GET', `/v1/users/${user.slug}/events`, { token });
    expect(mine.body.items.map((e: { name: string }) => e.name)).toEqual(['Follows the preference', 'Opted out', 'Quiet', 'Opted in', 'Draft']);
    const theirs = await s.api('GET', `/v1/users/${user.slug}/events?limit=3`, { token: stranger.token });
    expect(theirs.body.items.map((e: { name: string }) => e.name)).toEqual(['Follows the preference', 'Opted out', 'Quiet']);
    expect((await s.api('GET', `/v1/users/${user.slug}/events?from=2027-07-04T00:00:00Z`, { token: stranger.token })).body.items.map((e: { name: string }) => e.name)).toEqual(['Opted in']);
    expect((await s.api('GET', '/v1/users/nobody-000000/events', { token })).status).toBe(404);
    expect((await s.api('PATCH', '/v1/me', { token, body: {} })).status).toBe(400);
  });

  it('an in-person event publishes its place (an address with its country)', async () => {
    const agent = await pdsAccount(net, 'erin.test');
    const { token, user } = (await appPasswordLogin(s, 'erin.test')).body;
    const created = await s.api('POST', '/v1/events', { token, body: { name: 'In person', ...at(20), location: 'Town Hall, Main St 1', country: 'DE' } });
    expect(created.body).toMatchObject({ location: 'Town Hall, Main St 1', country: 'DE' });
    const uri = await eventually(async () => uriOf(created.body.slug));
    const record = await agent.com.atproto.repo.getRecord({ repo: user.did, collection: EVENT_COLLECTION, rkey: uri.split('/').pop()! });
    expect(record.data.value).toMatchObject({
      mode: `${EVENT_COLLECTION}#inperson`, locations: [{ $type: ADDRESS_LOCATION, name: 'Town Hall, Main St 1', country: 'DE' }],
    });
    expect((await s.api('PATCH', `/v1/events/${created.body.slug}`, { token, body: { country: 'Germany' } })).status).toBe(400);
  });

  it('login takes the name and avatar from the Bluesky profile, again at every login', async () => {
    const agent = await pdsAccount(net, 'frida.test');
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
    const { data } = await agent.uploadBlob(png, { encoding: 'image/png' });
    const profile = (record: Record<string, unknown>) => agent.com.atproto.repo.putRecord({
      repo: agent.session!.did, collection: 'app.bsky.actor.profile', rkey: 'self', record: { $type: 'app.bsky.actor.profile', ...record },
    });
    await profile({ displayName: 'Frida K', avatar: data.blob });
    const first = (await appPasswordLogin(s, 'frida.test')).body.user;
    expect(first.displayName).toBe('Frida K');
    const avatar = await fetch(first.avatarUrl);
    expect(Buffer.from(await avatar.arrayBuffer())).toEqual(png);

    await profile({ displayName: 'Frida Kahlo' }); // a new name, the avatar removed
    expect((await appPasswordLogin(s, 'frida.test')).body.user).toMatchObject({ displayName: 'Frida Kahlo', avatarUrl: null });
  });

  it('a hostile PDS cannot hold or poison the profile read: a stall, a flood, controls and a bad CID are refused', async () => {
    let mode = 'stall';
    const pds: Server = createServer((req, res) => {
      if (mode === 'stall') return; // never answers
      if (mode === 'flood') { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ value: { displayName: 'x'.repeat(200_000) } })); return; }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ value: { displayName: `\u0007Evil\nName${'!'.repeat(500)}`, avatar: { ref: { $link: '../../admin?x=1' } } } }));
    });
    await new Promise<void>((ok) => pds.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(pds.address() as AddressInfo).port}`;
    try {
      expect(await readProfile(url, 'did:plc:stall')).toBeNull();
      mode = 'flood';
      expect(await readProfile(url, 'did:plc:flood')).toBeNull();
      mode = 'odd';
      const odd = await readProfile(url, 'did:plc:odd');
      expect(odd?.avatarUrl).toBeNull();
      expect(odd?.displayName).toMatch(/^Evil Name!+$/);
      expect(odd?.displayName?.length).toBe(200);
    } finally {
      pds.closeAllConnections();
      pds.close();
    }
  });

  it('disconnect: the session is revoked at the PDS and forgotten, publishing stops, published records stay', async () => {
    await pdsAccount(net, 'dave.test');
    const { token, user } = (await appPasswordLogin(s, 'dave.test')).body;
    const { slug } = (await s.api('POST', '/v1/events', { token, body: { name: 'Before', ...at(10) } })).body;
    const uri = await eventually(async () => uriOf(slug));
    const stored = (await sessionStore(s.redis, s.config).load(user.did))!;
    expect(stored).toBeDefined();

    const bye = await s.api('DELETE', '/v1/me/bluesky', { token });
    expect(bye.status).toBe(200);
    expect(bye.body).toEqual({ connected: false, revoked: true, operations: [] });
    expect(await sessionStore(s.redis, s.config).load(user.did)).toBeUndefined();
    // The PDS no longer honours the refresh token meetflow held.
    const old = new AtpAgent({ service: stored.service });
    await expect(old.com.atproto.server.refreshSession(undefined, { headers: { authorization: `Bearer ${stored.session.refreshJwt}` } })).rejects.toThrow();
    expect((await s.api('GET', '/v1/me', { token })).body).toMatchObject({ blueskyConnected: false, did: user.did });

    // Changes and new events publish nothing; what was published stays on the network.
    const changed = await s.api('PATCH', `/v1/events/${slug}`, { token, body: { name: 'After' } });
    expect(changed.body.operations).toEqual([]);
    expect((await s.api('POST', '/v1/events', { token, body: { name: 'Unpublished', ...at(11) } })).body.operations).toEqual([]);
    const reader = new AtpAgent({ service: net.pds.url });
    const record = await reader.com.atproto.repo.getRecord({ repo: user.did, collection: EVENT_COLLECTION, rkey: uri.split('/').pop()! });
    expect(record.data.value).toMatchObject({ name: 'Before' });
    expect((await s.api('DELETE', '/v1/me/bluesky', { token })).body).toEqual({ connected: false, revoked: false, operations: [] }); // again: nothing left to revoke

    // Logging in again reconnects the same account.
    const back = await appPasswordLogin(s, 'dave.test', PASSWORD);
    expect(back.body.user.id).toBe(user.id);
    expect((await s.api('GET', '/v1/me', { token })).body.blueskyConnected).toBe(true);
  });
  it('disconnect with deleteRecords: bsky-unpublish:<did> deletes meetflow\'s records in the user\'s repo, then forgets the session', async () => {
    const agent = await pdsAccount(net, 'gus.test');
    const { token, user } = (await appPasswordLogin(s, 'gus.test')).body;
    const { slug } = (await s.api('POST', '/v1/events', { token, body: { name: 'Gus hosts', ...at(25) } })).body;
    await eventually(async () => uriOf(slug));
    await s.api('POST', `/v1/events/${slug}/attendees`, { token, body: { status: 'going' } }); // his RSVP record too
    const list = async (collection: string) => (await agent.com.atproto.repo.listRecords({ repo: user.did, collection })).data.records;
    await eventually(async () => (await list(RSVP_COLLECTION)).length === 1);

    const bye = await s.api('DELETE', '/v1/me/bluesky?deleteRecords=true', { token });
    expect(bye.body).toEqual({ connected: false, revoked: null, operations: [{ id: `bsky-unpublish:${user.did}`, type: 'bsky-unpublish' }] });
    const op = await s.finished(`bsky-unpublish:${user.did}`, token, { timeoutMs: 60_000 });
    expect(op).toMatchObject({ status: 'completed', result: { step: 'done', deleted: 2, revoked: true } });
    expect(await list(EVENT_COLLECTION)).toEqual([]);
    expect(await list(RSVP_COLLECTION)).toEqual([]);
    expect(await uriOf(slug)).toBeNull();
    expect(await sessionStore(s.redis, s.config).load(user.did)).toBeUndefined();
    expect((await s.api('GET', `/v1/events/${slug}`, { token })).body).toMatchObject({ name: 'Gus hosts', bluesky: null }); // the event itself stays
  });
});
