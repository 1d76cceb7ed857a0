import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { request as httpRequest, createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { serve } from '@hono/node-server';
import { sign } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.ts';
import { poolStats } from '../../src/db/data-source.ts';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { spawnApi } from '../helpers/api-process.ts';
import { seedAttendees } from '../helpers/seed.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { freePort } from '../../scripts/free-ports.ts';

// Hostile callers against the real API, Postgres and Redis: each block is one finding of the
// security review, shown refused (and the service still healthy afterwards).
let s: Stack;
let closedPort: number;
beforeAll(async () => {
  closedPort = await freePort();
  s = await startStack({
    DB_POOL_MAX: '4', DB_ACQUIRE_TIMEOUT_MS: '1500', DB_LOCK_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '5000',
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '3000', LIVENESS_STALL_MS: '2000', BLUESKY_PLC_URL: `http://127.0.0.1:${closedPort}`, // DIDs resolve nowhere: loopback only
  });
  await s.startWorker();
});
afterAll(async () => { await s?.close(); });

const event = (owner: { token: string }, fields: Record<string, unknown> = {}) => s.event(owner.token, fields);

describe('a shared resource cannot be wedged', () => {
  it('40 concurrent PATCHes of a group series by a stranger: all answered, none hang, and the API serves on', async () => {
    const owner = await s.user('Series Owner');
    const stranger = await s.user('Stranger');
    const group = (await s.api('POST', '/v1/groups', { token: owner.token, body: { name: 'Wedge Group' } })).body;
    const series = await s.api('POST', '/v1/series', { token: owner.token, body: {
      name: 'Weekly', rrule: 'FREQ=WEEKLY;BYDAY=TU', startAt: '2027-03-02T19:00:00Z', endAt: '2027-03-02T21:00:00Z', timeZone: 'UTC', groupSlug: group.slug,
    } });
    expect(series.status).toBe(201);
    const answers = await Promise.all(Array.from({ length: 40 }, () =>
      s.api('PATCH', `/v1/series/${series.body.slug}`, { token: stranger.token, body: { name: 'mine now' } })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((st) => st === 403 || st === 503), JSON.stringify(statuses)).toBe(true);
    expect(statuses.filter((st) => st === 403).length).toBeGreaterThan(0);
    const ok = await s.api('PATCH', `/v1/series/${series.body.slug}`, { token: owner.token, body: { description: 'still mine' } });
    expect(ok.status).toBe(200);
    expect((await s.api('GET', '/health/live')).status).toBe(200);
    // Every connection of the pool is given back: nothing left holding a transaction.
    await eventually(async () => { const p = poolStats(s.ds); return p.waiting === 0 && p.idle === p.total; }, { timeoutMs: 10_000 });
  });

  it('a row lock held elsewhere: the request answers 503 database_timeout in bounded time, then works again', async () => {
    const owner = await s.user('Locked Owner');
    const { slug } = await event(owner, { capacity: 5 });
    const holder = s.ds.createQueryRunner();
    await holder.startTransaction();
    await holder.query(`SELECT 1 FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
    try {
      const started = Date.now();
      const res = await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('database_timeout');
      expect(Date.now() - started).toBeLessThan(30_000); // bounded by lock_timeout, not by the holder
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } })).body.status).toBe('confirmed');
  });

  it('an exhausted pool answers 503 database_busy instead of queueing for ever; liveness reports the stall, then recovers', async () => {
    const { token } = await s.user();
    const held = await Promise.all(Array.from({ length: 4 }, async () => {
      const q = s.ds.createQueryRunner();
      await q.connect();
      return q;
    }));
    try {
      const res = await s.api('GET', '/v1/events', { token });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('database_busy');
      // Requests keep waiting on a pool nobody gives back: past LIVENESS_STALL_MS liveness says so.
      let live = 200;
      const deadline = Date.now() + 30_000;
      while (live === 200 && Date.now() < deadline) {
        await Promise.all([s.api('GET', '/v1/events', { token }), s.api('GET', '/v1/events', { token })]);
        live = (await s.api('GET', '/health/live')).status;
      }
      expect(live).toBe(503);
    } finally {
      await Promise.all(held.map((q) => q.release()));
    }
    await eventually(async () => (await s.api('GET', '/health/live')).status === 200, { timeoutMs: 10_000 });
    expect((await s.api('GET', '/v1/events', { token })).status).toBe(200);
  });
});

describe('computation from input is bounded', () => {
  const create = async (body: Record<string, unknown>) => s.api('POST', '/v1/series', { token: (await s.user()).token, body: {
    name: 'Bounded', startAt: '2027-01-01T10:00:00Z', endAt: '2027-01-01T11:00:00Z', timeZone: 'UTC', rrule: 'FREQ=DAILY', ...body,
  } });

  it('refuses a rule that never matches, a start in the year 1000, a huge COUNT or INTERVAL, and an endless window', async () => {
    const never = await create({ rrule: 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30' });
    expect(never.status).toBe(400);
    expect(never.body.error.message).toMatch(/yields no occurrence/);
    const ancient = await create({ rrule: 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', startAt: '1000-01-01T10:00:00Z', endAt: '1000-01-01T11:00:00Z' });
    expect(ancient.status).toBe(400);
    expect((await create({ rrule: 'FREQ=DAILY;COUNT=99999' })).status).toBe(400);
    expect((await create({ rrule: 'FREQ=DAILY;INTERVAL=9999' })).status).toBe(400);
    expect((await create({ rrule: 'FREQ=DAILY;UNTIL=99991231T000000Z' })).status).toBe(400);
    expect((await create({ endAt: '2099-01-01T11:00:00Z' })).status).toBe(400); // an occurrence of 72 years
    const ok = await create({ rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29' }); // every 4 years: fine
    expect(ok.status).toBe(201);
    const owner = { token: (await s.token(ok.body.ownerId)) };
    const window = await s.api('GET', `/v1/series/${ok.body.slug}/occurrences?from=2027-01-01T00:00:00Z&to=2199-01-01T00:00:00Z`, owner);
    expect(window.status).toBe(400);
    const page = await s.api('GET', `/v1/series/${ok.body.slug}/occurrences?from=2027-01-01T00:00:00Z&to=2031-12-31T00:00:00Z`, owner);
    expect(page.body.items.map((o: { originalStart: string }) => o.originalStart.slice(0, 10))).toEqual(['2027-01-01', '2028-02-29']);
    expect((await s.api('GET', '/health/live')).status).toBe(200);
  });
});

describe('ingested data changes only what its author owns', () => {
  const A = 'did:plc:authoraaaaaaaaaaaaaaaaaa';
  const M = 'did:plc:mallorymmmmmmmmmmmmmmmmm';
  const H = 'did:plc:hostilepdshhhhhhhhhhhhhhh';
  const record = (did: string, rkey: string, fields: Record<string, unknown> = {}) => ({
    sourceType: 'bluesky', sourceId: `at://${did}/${EVENT_COLLECTION}/${rkey}`, sourceCid: `bafy-${rkey}`, creator: { did, handle: null },
    name: `event of ${did.slice(-4)}`, startAt: '2027-09-01T18:00:00Z', endAt: '2027-09-01T20:00:00Z', ...fields,
  });
  const byUri = async (uri: string) => (await s.ds.query(`SELECT e.slug, e.name, u.did FROM events e JOIN users u ON u.id = e.owner_id WHERE e.source_id = $1`, [uri]))[0];

  it('the same sourceUrl from another author makes that author\'s own event; their delete leaves the first author\'s event alone', async () => {
    const service = await s.token('ingest-service', 'service');
    const url = `https://calendar.example/e/${Date.now()}`;
    const a = record(A, `3a${Date.now()}`, { sourceUrl: url });
    expect((await s.api('POST', '/v1/integration/events', { token: service, body: a })).status).toBe(202);
    const aEvent = await eventually(() => byUri(a.sourceId));
    const m = record(M, `3m${Date.now()}`, { sourceUrl: url, name: 'taken over' });
    expect((await s.api('POST', '/v1/integration/events', { token: service, body: m })).status).toBe(202);
    const mEvent = await eventually(() => byUri(m.sourceId));
    expect(mEvent.slug).not.toBe(aEvent.slug);
    expect(mEvent.did).toBe(M);
    const del = await s.api('DELETE', `/v1/integration/events?sourceType=bluesky&sourceId=${encodeURIComponent(m.sourceId)}`, { token: service });
    expect(del.status).toBe(202);
    await eventually(async () => !(await byUri(m.sourceId)));
    expect(await byUri(a.sourceId)).toMatchObject({ slug: aEvent.slug, name: aEvent.name, did: A });
  });

  it('a sourceId outside creator.did\'s repo, or an RSVP outside userDid\'s repo, is refused at the door', async () => {
    const service = await s.token('ingest-service', 'service');
    const forged = { ...record(A, '3forged'), creator: { did: M, handle: null } };
    const res = await s.api('POST', '/v1/integration/events', { token: service, body: forged });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error.details)).toMatch(/creator\.did/);
    const rsvp = { sourceId: `at://${A}/community.lexicon.calendar.rsvp/3x`, eventSourceId: forged.sourceId, userDid: M, status: 'going' };
    expect((await s.api('POST', '/v1/integration/rsvps', { token: service, body: rsvp })).status).toBe(400);
  });

  it('the user sync takes only records of the user\'s own repo, whatever their PDS answers', async () => {
    const victimUri = `at://${A}/${EVENT_COLLECTION}/3victim`;
    // A self-hosted (hostile) PDS that lists someone else's record as the user's.
    const pds: Server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ records: [{ uri: victimUri, cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm', value: {
        $type: EVENT_COLLECTION, name: 'overwritten', createdAt: new Date().toISOString(), startsAt: '2027-09-01T18:00:00Z',
      } }] }));
    });
    await new Promise<void>((ok) => pds.listen(0, '127.0.0.1', ok));
    try {
      await s.ds.query(`INSERT INTO users (slug, display_name, did, pds_url) VALUES ($1, 'H', $2, $3)`,
        [`h-${Date.now()}`, H, `http://127.0.0.1:${(pds.address() as AddressInfo).port}`]);
      const page = await createActivities({ ds: s.ds, redis: s.redis, temporal: s.temporal, config: s.config, matrix: null })
        .syncRecordsPage({ did: H, collection: EVENT_COLLECTION, cursor: null });
      expect(page.applied).toEqual({ foreign: 1 });
      expect(page.uris).toEqual([]);
      expect(await byUri(victimUri)).toBeUndefined();
    } finally {
      pds.close();
      await s.ds.query(`DELETE FROM users WHERE did = $1`, [H]);
    }
  });

  it('a PDS that answers without end is cut off once the answer passes 32 MiB: the page fails for good, and the connection is closed', { timeout: 120_000 }, async () => {
    // Before, the agent read the whole answer into the worker's memory: without end, until the heap ran out.
    let sent = 0;
    let closed!: () => void;
    const gone = new Promise<void>((ok) => { closed = ok; });
    const chunk = Buffer.from(`{"uri":"at://${H}/${EVENT_COLLECTION}/3x","cid":"bafy","value":{}},`.repeat(1000));
    const pds: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.write('{"records":[');
      const more = () => { while (!res.destroyed && res.write(chunk)) sent += chunk.length; };
      res.on('drain', more);
      res.on('close', closed);
      more();
    });
    await new Promise<void>((ok) => pds.listen(0, '127.0.0.1', ok));
    try {
      await s.ds.query(`INSERT INTO users (slug, display_name, did, pds_url) VALUES ($1, 'H', $2, $3)`,
        [`h-${Date.now()}`, H, `http://127.0.0.1:${(pds.address() as AddressInfo).port}`]);
      const page = createActivities({ ds: s.ds, redis: s.redis, temporal: s.temporal, config: s.config, matrix: null })
        .syncRecordsPage({ did: H, collection: EVENT_COLLECTION, cursor: null });
      await expect(page).rejects.toMatchObject({ type: 'PdsAnswerTooLarge', nonRetryable: true, message: expect.stringMatching(/more than 33554432 bytes/) });
      await gone;
      expect(sent).toBeLessThan(64 * 1024 * 1024); // what the socket buffers held beyond the 32 MiB read
    } finally {
      pds.close();
      await s.ds.query(`DELETE FROM users WHERE did = $1`, [H]);
    }
  });

  it('in production a PDS URL may not point at private addresses or plain http', async () => {
    const { assertFetchable } = await import('../../src/identity.ts');
    const prod = { ALLOW_PRIVATE_NETWORK_FETCH: false };
    for (const url of ['http://pds.example.com', 'https://127.0.0.1', 'https://10.1.2.3:8080', 'https://[::1]/', 'https://169.254.169.254', 'https://localhost']) {
      await expect(assertFetchable(url, prod), url).rejects.toMatchObject({ type: 'UnsafeServiceUrl', nonRetryable: true });
    }
    await expect(assertFetchable('http://127.0.0.1:2583', { ALLOW_PRIVATE_NETWORK_FETCH: true })).resolves.toBeUndefined();
  });
});

describe('reads are limited to who may see them', () => {
  it('a draft exists only for its managers: not read, listed or RSVPed by others', async () => {
    const owner = await s.user('Drafter');
    const other = await s.user('Curious');
    const { slug } = await event(owner, { status: 'draft', name: 'Secret plans' });
    expect((await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).status).toBe(200);
    expect((await s.api('GET', `/v1/events/${slug}`, { token: other.token })).status).toBe(404);
    const listed = (await s.api('GET', '/v1/events?limit=200&from=2027-06-01T00:00:00Z&to=2027-06-02T00:00:00Z', { token: other.token })).body.items;
    expect(listed.map((e: { slug: string }) => e.slug)).not.toContain(slug);
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: other.token, body: { status: 'going' } })).status).toBe(404);
    expect((await s.api('GET', `/v1/events/${slug}/attendees`, { token: other.token })).status).toBe(404);
    const own = await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } });
    expect(own.status).toBe(409);
    expect(own.body.error.code).toBe('event_not_open');
    // An admin sees it too; a token whose subject is no user is refused before anything is read.
    const asAdmin = await s.api('POST', `/v1/events/${slug}/attendees`, { token: await s.token(other.id, 'admin'), body: { status: 'interested' } });
    expect(asAdmin.body.error.code).toBe('event_not_open');
    for (const sub of [randomUUID(), 'not-a-uuid']) {
      const ghost = await s.api('POST', `/v1/events/${slug}/attendees`, { token: await s.token(sub), body: { status: 'going' } });
      expect(ghost.status).toBe(401);
    }
    expect((await s.api('POST', '/v1/events/no-such-event/attendees', { token: other.token, body: { status: 'going' } })).status).toBe(404);
    const [{ n }] = await s.ds.query(`SELECT count(*)::int AS n FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1`, [slug]);
    expect(n).toBe(0);
  });

  it('someone else\'s operation does not exist for a stranger, but does for its owner and an admin', async () => {
    const owner = await s.user('Op Owner');
    const stranger = await s.user('Op Stranger');
    const { slug } = await event(owner);
    const del = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    expect(del.status).toBe(202);
    expect((await s.api('GET', `/v1/operations/${del.body.id}`, { token: stranger.token })).status).toBe(404);
    const done = await s.finished(del.body.id, owner.token); // readable by whoever started it, after the event is gone
    expect(done.status).toBe('completed');
    expect((await s.api('GET', `/v1/operations/${del.body.id}`, { token: await s.token(stranger.id, 'admin') })).status).toBe(200);
    const admin = await s.token(stranger.id, 'admin');
    await eventually(async () => (await s.api('GET', `/v1/operations?entity=event:${slug}`, { token: admin })).body.items.length > 0);
    const listed = await s.api('GET', `/v1/operations?entity=event:${slug}`, { token: stranger.token });
    expect(listed.body.items).toEqual([]);
  });

  it('the attendee list comes a page at a time with a cursor, every attendee once (pages ending inside the waitlist too), waitlist positions intact', async () => {
    const owner = await s.user('Big Host');
    const { slug } = await event(owner, { capacity: 250 });
    await seedAttendees(s.ds, slug, 250);
    // 40 more wait, each at its own microsecond: pages break inside the waitlist too.
    await s.ds.query(`INSERT INTO users (slug, display_name) SELECT 'wait-' || $1 || '-' || g, 'Wait ' || g FROM generate_series(1, 40) g`, [slug]);
    await s.ds.query(
      `INSERT INTO attendees (event_id, user_id, status, waitlisted_at)
       SELECT (SELECT id FROM events WHERE slug = $1), u.id, 'waitlisted', now() + g * interval '1 microsecond'
         FROM generate_series(1, 40) g JOIN users u ON u.slug = 'wait-' || $1 || '-' || g`, [slug]);
    const seen: string[] = [];
    const positions: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const limit = pages ? 7 : 100; // after the first page, small pages that end inside the waitlist
      const res = await s.api('GET', `/v1/events/${slug}/attendees?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(100);
      seen.push(...res.body.items.map((a: { user: { slug: string } }) => a.user.slug));
      positions.push(...res.body.items.flatMap((a: { waitlistPosition?: number }) => a.waitlistPosition ?? []));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    expect(pages).toBe(1 + Math.ceil(190 / 7));
    expect(seen.length).toBe(290);
    expect(new Set(seen).size).toBe(290);
    expect(positions).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await s.api('GET', `/v1/events/${slug}/attendees?cursor=garbage`, { token: owner.token })).status).toBe(400);
  });
});

describe('tokens', () => {
  const raw = (claims: Record<string, unknown>) => sign(claims, s.config.AUTH_JWT_SECRET, 'HS256');

  it('a token without exp, or one that expires too far ahead, is refused', async () => {
    const user = await s.user();
    const now = Math.floor(Date.now() / 1000);
    const noExp = await s.api('GET', '/v1/events', { token: await raw({ sub: user.id }) });
    expect(noExp.status).toBe(401);
    expect(noExp.body.error.message).toMatch(/exp/);
    expect((await s.api('GET', '/v1/events', { token: await raw({ sub: user.id, exp: now + 10 * 365 * 86_400 }) })).status).toBe(401);
    expect((await s.api('GET', '/v1/events', { token: await raw({ sub: user.id, exp: now + 60 }) })).status).toBe(200);
  });

  it('issuer and audience are checked when configured', async () => {
    const strict = await startStack({ AUTH_JWT_ISSUER: 'https://platform.example', AUTH_JWT_AUDIENCE: 'meetflow' });
    try {
      const user = await strict.user();
      expect((await strict.api('GET', '/v1/events', { token: user.token })).status).toBe(200); // minted with iss and aud
      const exp = Math.floor(Date.now() / 1000) + 60;
      expect((await strict.api('GET', '/v1/events', { token: await raw({ sub: user.id, exp }) })).status).toBe(401);
      expect((await strict.api('GET', '/v1/events', { token: await raw({ sub: user.id, exp, iss: 'https://platform.example', aud: 'other' }) })).status).toBe(401);
    } finally {
      await strict.close();
    }
  });

  it('`npm run token` refuses a lifetime that is not a number of seconds within the limit', async () => {
    const run = promisify(execFile);
    for (const ttl of ['x', '0', '999999999']) {
      const err = await run(process.execPath, ['scripts/token.ts', '--sub', 'someone', '--ttl', ttl]).catch((e) => e);
      expect(err.code, ttl).toBe(2);
    }
    const { stdout } = await run(process.execPath, ['scripts/token.ts', '--sub', 'someone', '--ttl', '60']);
    expect(stdout.trim().split('.')).toHaveLength(3);
  });
});

describe('connections', () => {
  it('one client cannot hold every connection: past its share new ones are closed, others are served, and trickled requests time out', { timeout: 120_000 }, async () => {
    const api = await spawnApi(s, { API_MAX_CONNECTIONS_PER_CLIENT: '8', API_REQUEST_TIMEOUT_MS: '2000' });
    const port = Number(new URL(api.base).port);
    // Open and sending headers a byte at a time (or nothing): what held 20,000 connections in one API before.
    // The client is 127.0.0.3 (127.0.0.1 already has the readiness check's kept-alive connection).
    const open = (from = '127.0.0.3', first = 'GET /health/live HTTP/1.1\r\nHost: x\r\n') => new Promise<{ socket: Socket; answer: Promise<string> }>((ok, fail) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: from }, () => {
        if (first) socket.write(first);
        ok({ socket, answer: new Promise((done) => { let text = ''; socket.on('data', (d) => { text += d; }); socket.on('close', () => done(text)); }) });
      });
      socket.on('error', fail);
    });
    const get = (from: string) => new Promise<number>((ok, fail) => {
      httpRequest({ host: '127.0.0.1', port, path: '/health/live', localAddress: from, agent: false }, (res) => { res.resume(); ok(res.statusCode!); })
        .on('error', fail).end();
    });
    try {
      const held = [await open('127.0.0.3', '')];
      for (let i = 1; i < 8; i++) held.push(await open());
      // The ninth from the same client is closed unanswered; another client is served meanwhile.
      const ninth = await open('127.0.0.3', 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(await ninth.answer).toBe('');
      expect(await get('127.0.0.2')).toBe(200);
      // The held ones are given up by the request timeout (408), also the one that sent nothing.
      const answers = await Promise.all(held.map((h) => h.answer));
      expect(answers.map((a) => a.slice(0, 12))).toEqual(Array(8).fill('HTTP/1.1 408'));
      // Served again once the API has counted them closed, which may come just after this side saw
      // them close (CI saw the first try hang up).
      await eventually(async () => (await get('127.0.0.3').catch(() => 0)) === 200, { timeoutMs: 10_000 });
    } finally {
      await api.stop();
    }
  });
});

describe('input', () => {
  it('a body over the limit is 413 before it is parsed', async () => {
    const user = await s.user();
    const res = await s.app.request('/v1/events', {
      method: 'POST', headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('over HTTP, a body over the limit is 413 whether its length is declared or it comes in chunks', async () => {
    const user = await s.user();
    const server = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((ok) => server.once('listening', ok));
    const port = (server.address() as AddressInfo).port;
    // The answer can come before the body is sent: the request stops being written once it has.
    const post = (body: string, { declared, chunk = body.length }: { declared: boolean; chunk?: number }) =>
      new Promise<{ status: number; code?: string }>((ok, fail) => {
        const headers: Record<string, string | number> = { Authorization: `Bearer ${user.token}`, 'Content-Type': 'application/json' };
        if (declared) headers['Content-Length'] = Buffer.byteLength(body);
        let answered = false;
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/events', headers }, (res) => {
          answered = true;
          let text = '';
          res.on('data', (d) => { text += d; });
          res.on('end', () => ok({ status: res.statusCode!, code: text.startsWith('{') ? JSON.parse(text).error?.code : undefined }));
        });
        req.on('error', (err) => { if (!answered) fail(err); });
        void (async () => {
          for (let at = 0; at < body.length && !answered; at += chunk) {
            await new Promise((written) => req.write(body.slice(at, at + chunk), written)); // without Content-Length: one chunk each
            await new Promise((tick) => setImmediate(tick));
          }
          if (!answered) req.end();
        })();
      });
    const event = (name: string) => JSON.stringify({ name, startAt: '2027-01-01T10:00:00Z', endAt: '2027-01-01T11:00:00Z', timeZone: 'UTC' });
    const big = event('x'.repeat(2 * 1024 * 1024));
    try {
      expect(await post(big, { declared: true, chunk: 64 * 1024 })).toEqual({ status: 413, code: 'payload_too_large' });
      expect(await post(big, { declared: false, chunk: 64 * 1024 })).toEqual({ status: 413, code: 'payload_too_large' });
      expect((await post(event('fits'), { declared: true })).status).toBe(201);
      expect((await post(event('fits, in chunks'), { declared: false, chunk: 10 })).status).toBe(201);
    } finally {
      server.close();
    }
  });

  it('NUL and control characters in paths, queries and bodies are 400, never 500', async () => {
    const user = await s.user();
    for (const path of ['/v1/events/abc%00def', '/v1/events/abc%0Adef', '/v1/events?groupSlug=%00', '/v1/events/%E0%A4%A']) {
      const res = await s.api('GET', path, { token: user.token });
      expect([400, 404], path).toContain(res.status);
    }
    const body = await s.api('POST', '/v1/events', { token: user.token, body: {
      name: 'nul\u0000byte', startAt: '2027-01-01T10:00:00Z', endAt: '2027-01-01T11:00:00Z', timeZone: 'UTC',
    } });
    expect(body.status).toBe(400);
  });

  it('link fields take http(s) only', async () => {
    const user = await s.user();
    for (const onlineUrl of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'ftp://files.example/x']) {
      const res = await s.api('POST', '/v1/events', { token: user.token, body: {
        name: 'Link', startAt: '2027-01-01T10:00:00Z', endAt: '2027-01-01T11:00:00Z', timeZone: 'UTC', onlineUrl,
      } });
      expect(res.status, onlineUrl).toBe(400);
    }
  });
});

describe('rate limits', () => {
  it('unauthenticated requests are limited per address (across processes: counted in Redis), with RateLimit and Retry-After', async () => {
    const limited = await startStack({ RATE_LIMIT_ANON_PER_MIN: '5', BLUESKY_SERVICE: `http://127.0.0.1:${closedPort}` });
    const server = serve({ fetch: limited.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((ok) => server.once('listening', ok));
    const port = (server.address() as AddressInfo).port;
    // From an address of our own (127.0.0.3), so no other test shares the bucket.
    const post = () => new Promise<{ status: number; headers: Record<string, unknown> }>((ok, fail) => {
      const req = httpRequest({ host: '127.0.0.1', port, localAddress: '127.0.0.3', method: 'POST', path: '/v1/auth/bluesky/app-password',
        headers: { 'Content-Type': 'application/json' } }, (res) => { res.resume(); res.on('end', () => ok({ status: res.statusCode!, headers: res.headers })); });
      req.on('error', fail);
      req.end(JSON.stringify({ identifier: 'x', password: 'y' }));
    });
    try {
      await limited.redis.del(...await limited.redis.keys('rl:anon:127.0.0.3:*').then((k) => (k.length ? k : ['none'])));
      const answers = [];
      for (let i = 0; i < 7; i++) answers.push(await post());
      expect(answers.slice(0, 5).every((a) => a.status !== 429)).toBe(true);
      const last = answers[6];
      expect(last.status).toBe(429);
      expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
      expect(String(last.headers.ratelimit)).toMatch(/limit=5, remaining=0/);
    } finally {
      server.close();
      await limited.close();
    }
  });

  it('writes are limited per user', async () => {
    const limited = await startStack({ RATE_LIMIT_WRITES_PER_MIN: '3' });
    try {
      const user = await limited.user();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await limited.api('POST', '/v1/groups', { token: user.token, body: { name: `g${i}` } })).status);
      expect(statuses).toEqual([201, 201, 201, 429]);
      expect((await limited.api('GET', '/v1/events', { token: user.token })).status).toBe(200); // reads are not writes
    } finally {
      await limited.close();
    }
  });
});
