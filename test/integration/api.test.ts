import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from 'hono/jwt';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { FEW_ATTENDEES } from '../../src/workflows/deletion.ts';

let s: Stack;
beforeAll(async () => { s = await startStack(); await s.startWorker(); });
afterAll(async () => { await s?.close(); });

describe('API conventions', () => {
  it('health: live, and ready reports Postgres (with pool figures), Redis and Temporal', async () => {
    expect((await s.api('GET', '/health/live')).body).toEqual({ status: 'ok' });
    const ready = await s.api('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.checks.postgres.up).toBe(true);
    expect(ready.body.checks.postgres.pool).toEqual({ total: expect.any(Number), idle: expect.any(Number), waiting: expect.any(Number) });
    expect(ready.body.checks.redis.up).toBe(true);
    expect(ready.body.checks.temporal.up).toBe(true);
  });

  it('serves Prometheus metrics, the OpenAPI document and the docs page', async () => {
    await s.api('GET', '/health/live');
    const metrics = await s.api('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('meetflow_http_requests_total{method="GET",route="/health/live",status="200"}');
    const doc = await s.api('GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/events', '/v1/events/{slug}/attendees', '/v1/operations/{id}']));
    const docs = await s.api('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.body).toContain('swagger');
    // Offline: the page loads its assets from meetflow itself, never from a CDN, and they are served.
    const assets = [...String(docs.body).matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const url of assets) {
      expect(url, url).toMatch(/^\/docs\/assets\//);
      const asset = await s.api('GET', url);
      expect(asset.status, url).toBe(200);
      expect(String(asset.body).length, url).toBeGreaterThan(10_000);
    }
    expect((await s.api('GET', '/docs/assets/swagger-ui-dist/package.json')).status).toBe(404); // only the two files
  });

  it('rejects missing, forged, expired and wrong-role tokens with the error shape', async () => {
    const none = await s.api('GET', '/v1/events');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: { code: 'unauthorized', message: 'missing bearer token' } });
    const forged = await sign({ sub: randomUUID() }, 'not-the-secret-at-all', 'HS256');
    expect((await s.api('GET', '/v1/events', { token: forged })).body.error.code).toBe('unauthorized');
    const expired = await sign({ sub: randomUUID(), exp: Math.floor(Date.now() / 1000) - 10 }, s.config.AUTH_JWT_SECRET, 'HS256');
    expect((await s.api('GET', '/v1/events', { token: expired })).status).toBe(401);
    const plain = await s.user();
    const denied = await s.api('POST', '/v1/users', { token: plain.token, body: { displayName: 'x' } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('forbidden');
    const unknownRoute = await s.api('GET', '/v1/nothing-here', { token: plain.token });
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.body.error.code).toBe('not_found');
  });

  it('bad input is a 400 with machine-readable details and writes nothing', async () => {
    const u = await s.user();
    // This user's events only: other test files write events meanwhile.
    const mine = async () => Number((await s.ds.query(`SELECT count(*) FROM events WHERE owner_id = $1`, [u.id]))[0].count);
    const before = await mine();
    const bad = await s.api('POST', '/v1/events', {
      token: u.token, body: { name: 'x', startAt: '2027-01-02T10:00:00Z', endAt: '2027-01-01T10:00:00Z', timeZone: 'Nowhere/Atlantis', capacity: -1 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details.issues.map((i: { path: string }) => i.path)).toEqual(expect.arrayContaining(['timeZone', 'capacity']));
    const notJson = await s.app.request('/v1/events', { method: 'POST', headers: { Authorization: `Bearer ${u.token}`, 'Content-Type': 'application/json' }, body: '{oops' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBeTypeOf('string');
    expect(await mine()).toBe(before);
  });

  it('a token whose subject is no user cannot create things', async () => {
    const ghost = await s.token(randomUUID());
    const res = await s.api('POST', '/v1/groups', { token: ghost, body: { name: 'Ghosts' } });
    expect(res.status).toBe(401);
    const notUuid = await s.token('not-a-uuid');
    expect((await s.api('POST', '/v1/groups', { token: notUuid, body: { name: 'Ghosts' } })).status).toBe(401);
  });

  it('Idempotency-Key: concurrent duplicates and retries get the committed answer, one row; another body under the key is a 422', async () => {
    const u = await s.user();
    const key = randomUUID();
    const body = { name: 'Once Only', startAt: '2027-03-01T10:00:00Z', endAt: '2027-03-01T11:00:00Z', timeZone: 'UTC' };
    const post = (b: object = body, k: string = key) => s.api('POST', '/v1/events', { token: u.token, body: b, headers: { 'Idempotency-Key': k } });
    const answers = await Promise.all(Array.from({ length: 8 }, () => post()));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect(new Set(answers.map((a) => a.body.slug)).size).toBe(1);
    const again = await post();
    expect(again.status).toBe(201);
    expect(again.body.slug).toBe(answers[0].body.slug);
    const [{ count }] = await s.ds.query(`SELECT count(*)::int AS count FROM events WHERE owner_id = $1`, [u.id]);
    expect(count).toBe(1);

    const reused = await post({ ...body, name: 'Something Else' });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect((await post(body, 'not a key')).body.error.code).toBe('validation_failed'); // spaces: not a key
    // A request that changed nothing keeps nothing: the same key then works for a valid body.
    const invalidFirst = randomUUID();
    expect((await post({ ...body, timeZone: 'Mars/Base' }, invalidFirst)).status).toBe(400);
    expect((await post(body, invalidFirst)).status).toBe(201);
  });

  it('groups: the caller owns what it creates; only members create group events', async () => {
    const owner = await s.user('Owner');
    const g = await s.api('POST', '/v1/groups', { token: owner.token, body: { name: 'Hikers', chatEnabled: true } });
    expect(g.status).toBe(201);
    expect(g.body).toMatchObject({ name: 'Hikers', ownerId: owner.id, chatEnabled: true });
    expect((await s.api('GET', `/v1/groups/${g.body.slug}`, { token: owner.token })).body.slug).toBe(g.body.slug);
    const ev = await s.event(owner.token, { groupSlug: g.body.slug, capacity: 3 });
    // The 201 answer (written without reading the event back) is what a GET reads.
    const { operations: _ops, ...created } = ev as typeof ev & { operations: unknown };
    expect((await s.api('GET', `/v1/events/${ev.slug}`, { token: owner.token })).body).toEqual({ ...created, groupSlug: g.body.slug });
    const outsider = await s.user('Outsider');
    const denied = await s.api('POST', '/v1/events', {
      token: outsider.token,
      body: { name: 'Nope', startAt: '2027-03-01T10:00:00Z', endAt: '2027-03-01T11:00:00Z', timeZone: 'UTC', groupSlug: g.body.slug },
    });
    expect(denied.status).toBe(403);
  });

  it('lists events with counts computed from attendee rows', async () => {
    const owner = await s.user();
    const g = (await s.api('POST', '/v1/groups', { token: owner.token, body: { name: 'Listers' } })).body.slug;
    const e1 = await s.event(owner.token, { groupSlug: g, startAt: '2027-05-01T10:00:00Z', endAt: '2027-05-01T11:00:00Z' });
    const e2 = await s.event(owner.token, { groupSlug: g, startAt: '2027-05-02T10:00:00Z', endAt: '2027-05-02T11:00:00Z', capacity: 1 });
    const guest = await s.user();
    await s.api('POST', `/v1/events/${e2.slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    await s.api('POST', `/v1/events/${e2.slug}/attendees`, { token: owner.token, body: { status: 'going' } });
    const list = await s.api('GET', `/v1/events?groupSlug=${g}`, { token: owner.token });
    expect(list.body.items.map((e: { slug: string }) => e.slug)).toEqual([e1.slug, e2.slug]);
    expect(list.body.items[1].attendeeCounts).toEqual({ confirmed: 1, waitlisted: 1, maybe: 0 });
  });
});

describe('operations (API -> Temporal dev server -> worker -> activity -> Postgres -> API)', () => {
  it('follows a workflow from start to result and lists it by type and entity', async () => {
    const owner = await s.user();
    const { slug } = await s.event(owner.token, { capacity: 1 });
    const guest = await s.user();
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    const raised = await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 2 } });
    const id = raised.body.operations[0].id;
    expect(id).toBe(`waitlist:${slug}`);

    const op = await eventually(async () => {
      const r = await s.api('GET', `/v1/operations/${id}`, { token: owner.token });
      return r.body.progress?.promoted === 1 && r.body;
    });
    expect(op).toMatchObject({ id, type: 'waitlist', status: 'running', entity: { kind: 'event', slug } });
    expect(op.links.temporalUi).toContain(encodeURIComponent(id));
    // The activity's write is visible through the API.
    expect((await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).body.attendeeCounts).toEqual({ confirmed: 2, waitlisted: 0, maybe: 0 });

    const listed = await eventually(async () => {
      const r = await s.api('GET', `/v1/operations?type=waitlist&entity=event:${slug}&status=running`, { token: owner.token });
      return r.body.items?.length === 1 && r.body.items;
    });
    expect(listed[0].id).toBe(id);

    // A long poll on a running operation answers it running once the wait is over; longer waits are refused.
    expect((await s.api('GET', `/v1/operations/${id}?wait=1`, { token: owner.token })).body).toMatchObject({ status: 'running', progress: { promoted: 1 } });
    expect((await s.api('GET', `/v1/operations/${id}?wait=11`, { token: owner.token })).body.error.code).toBe('validation_failed');
    // A stranger is told at once that there is nothing to wait for.
    expect((await s.api('GET', `/v1/operations/${id}?wait=10`, { token: guest.token })).status).toBe(404);
    let answered = false;
    const waiting = s.api('GET', `/v1/operations/${id}?wait=10`, { token: owner.token }).finally(() => { answered = true; });

    // Only admins cancel; a cancelled operation reports it, to the long poll as soon as it closes.
    expect((await s.api('POST', `/v1/operations/${id}/cancel`, { token: owner.token })).status).toBe(403);
    expect(answered).toBe(false);
    const admin = await s.token(owner.id, 'admin');
    expect((await s.api('POST', `/v1/operations/${id}/cancel`, { token: admin })).status).toBe(202);
    const closed = (await waiting).body;
    expect(closed.status).toBe('cancelled');
    expect(closed.closedAt).toBeTypeOf('string');
  });

  it('an unknown or foreign operation id is a 404', async () => {
    const u = await s.user();
    expect((await s.api('GET', '/v1/operations/waitlist:no-such-event', { token: u.token })).body.error.code).toBe('not_found');
    expect((await s.api('GET', '/v1/operations/other:thing', { token: u.token })).status).toBe(404);
    expect((await s.api('GET', '/v1/operations/something-else', { token: u.token })).status).toBe(400); // not an operation id at all
    expect((await s.api('GET', '/v1/operations?entity=DROP TABLE', { token: u.token })).status).toBe(400);
  });
});

describe('conventions for clients', () => {
  it('every operation has a unique operationId; every 202 documents Location and sends it', async () => {
    const doc = (await s.api('GET', '/openapi.json')).body;
    const ops = Object.entries(doc.paths as Record<string, Record<string, { operationId?: string; responses: Record<string, { headers?: object }> }>>)
      .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, ...op })));
    expect(ops.length).toBeGreaterThan(30);
    expect(ops.filter((o) => !o.operationId)).toEqual([]);
    expect(new Set(ops.map((o) => o.operationId)).size).toBe(ops.length);
    for (const o of ops.filter((x) => x.responses['202'])) expect(o.responses['202'].headers, `${o.method} ${o.path}`).toHaveProperty('Location');

    const owner = await s.user();
    const { slug } = (await s.api('POST', '/v1/events', { token: owner.token, body: {
      name: 'Followed', startAt: '2027-09-01T18:00:00Z', endAt: '2027-09-01T20:00:00Z', timeZone: 'UTC',
    } })).body;
    const res = await s.app.request(`/v1/events/${slug}`, { method: 'DELETE', headers: { Authorization: `Bearer ${owner.token}` } });
    expect(res.status).toBe(202);
    const op = await res.json() as { links: { self: string } };
    expect(res.headers.get('Location')).toBe(op.links.self);
  });

  it('pages through events with a cursor: every event once, in start order', async () => {
    const owner = await s.user();
    const at = (i: number) => new Date(Date.UTC(2031, 0, 1, 10, 0, 0) + Math.floor(i / 2) * 3600_000).toISOString(); // pairs share a start
    for (let i = 0; i < 7; i++) {
      expect((await s.api('POST', '/v1/events', { token: owner.token, body: {
        name: `Paged ${i}`, startAt: at(i), endAt: '2031-02-01T00:00:00Z', timeZone: 'UTC',
      } })).status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    const mySlug = (await s.api('GET', '/v1/me', { token: owner.token })).body.slug;
    do {
      const page: { items: { name: string }[]; nextCursor: string | null } =
        (await s.api('GET', `/v1/users/${mySlug}/events?limit=3&from=2031-01-01T00:00:00Z${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token })).body;
      seen.push(...page.items.map((e) => e.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `Paged ${i}`).sort());
    expect(new Set(seen).size).toBe(7);
    expect((await s.api('GET', '/v1/events?cursor=bm90LW91cnM', { token: owner.token })).body.error.code).toBe('validation_failed');
    // A cursor of the right shape naming an instant that does not exist (month 13) is a 400 too,
    // here and on the lists whose keys Postgres reads (its date errors are bad input, never a 500).
    const key = (k: unknown[]) => Buffer.from(JSON.stringify(k)).toString('base64url');
    const impossible = await s.api('GET', `/v1/events?cursor=${key(['2031-13-45T99:99:99.000Z', 'x'])}`, { token: owner.token });
    expect(impossible.status).toBe(400);
    expect(impossible.body.error.code).toBe('validation_failed');
    const { slug } = (await s.api('POST', '/v1/events', { token: owner.token, body: {
      name: 'Paged attendees', startAt: '2031-03-01T10:00:00Z', endAt: '2031-03-01T11:00:00Z', timeZone: 'UTC',
    } })).body;
    const attendees = await s.api('GET', `/v1/events/${slug}/attendees?cursor=${key([1, '2031-13-45 99:99:99+00', '5'])}`, { token: owner.token });
    expect(attendees.status).toBe(400);
    expect(attendees.body.error.code).toBe('validation_failed');
  });
});

describe('request ids', () => {
  it('echoes a sane X-Request-Id, makes one otherwise, and carries it into the workflow and its activities', { timeout: 60_000 }, async () => {
    const given = await s.app.request('/health/live', { headers: { 'X-Request-Id': 'req-from-the-edge.42' } });
    expect(given.headers.get('X-Request-Id')).toBe('req-from-the-edge.42');
    expect((await s.app.request('/health/live')).headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
    const forged = await s.app.request('/health/live', { headers: { 'X-Request-Id': 'two words' } });
    expect(forged.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/); // not echoed into headers and logs

    const owner = await s.user();
    const { slug } = (await s.api('POST', '/v1/events', { token: owner.token, body: {
      name: 'Traced', startAt: '2027-10-01T18:00:00Z', endAt: '2027-10-01T20:00:00Z', timeZone: 'UTC',
    } })).body;
    // More attendees than one local step removes: the deletion then has an activity task too.
    await s.ds.query(
      `WITH u AS (INSERT INTO users (slug, display_name) SELECT 'traced-' || $1 || '-' || g, 'b' FROM generate_series(1, $2) g RETURNING id)
       INSERT INTO attendees (event_id, user_id, status) SELECT (SELECT id FROM events WHERE slug = $1), u.id, 'confirmed' FROM u`, [slug, FEW_ATTENDEES + 1]);
    const requestId = `req-${randomUUID()}`;
    const deleted = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token, headers: { 'X-Request-Id': requestId } });
    expect(deleted.status).toBe(202);
    await s.finished(deleted.body.id, owner.token);
    const history = await s.temporal.workflow.getHandle(deleted.body.id).fetchHistory();
    const headerOf = (fields: Record<string, { data?: Uint8Array | null }> | null | undefined) => {
      const data = fields?.['meetflow-request-id']?.data;
      return data ? JSON.parse(Buffer.from(data).toString()) : undefined;
    };
    const started = history.events?.find((e) => e.workflowExecutionStartedEventAttributes)!;
    expect(headerOf(started.workflowExecutionStartedEventAttributes!.header?.fields)).toBe(requestId);
    // The deletion's database steps are local activities (markers, no task: their header travels
    // in the worker); removing more than FEW_ATTENDEES is an activity task, with the header in the history.
    const scheduled = history.events?.filter((e) => e.activityTaskScheduledEventAttributes) ?? [];
    expect(scheduled.length).toBeGreaterThan(0);
    expect(history.events?.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length).toBeGreaterThanOrEqual(2); // tombstone, row
    for (const e of scheduled) expect(headerOf(e.activityTaskScheduledEventAttributes!.header?.fields)).toBe(requestId);
    // The request's own log line carries it (in-process logs go to LOG_FILE under npm test).
    if (process.env.LOG_FILE) {
      const lines = readFileSync(process.env.LOG_FILE, 'utf8').split('\n').filter((l) => l.includes(requestId)).map((l) => JSON.parse(l));
      expect(lines).toContainEqual(expect.objectContaining({ requestId, msg: 'request', method: 'DELETE', status: 202 }));
    }
  });
});
