import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TID } from '@atproto/common-web';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { spawnApi } from '../helpers/api-process.ts';
import { pdsAccount, testNetwork } from '../helpers/pds.ts';
import { seedAttendees } from '../helpers/seed.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { spawnWorker } from '../helpers/worker-process.ts';
import { freePort, freePorts } from '../../scripts/free-ports.ts';
import { readFileSync } from 'node:fs';
import { FEW_ATTENDEES } from '../../src/workflows/deletion.ts';

// Scale-out: two API processes, three worker processes and the firehose consumer, all real
// processes on one Temporal, one Postgres, one task queue. Requests alternate between the APIs;
// workflows land on whichever worker polls. Capacity, promotion order, deletion and ingestion
// must hold exactly as with one of each.
let net: TestNetworkNoAppView;
let s: Stack;
let apis: Awaited<ReturnType<typeof spawnApi>>[] = [];
let workers: Awaited<ReturnType<typeof spawnWorker>>[] = [];
let consumer: ReturnType<typeof spawn> | null = null;
let consumerHealth = '';
let workerMetrics: string[] = [];
beforeAll(async () => {
  net = await testNetwork();
  s = await startStack({ BLUESKY_SERVICE: net.pds.url, BLUESKY_PLC_URL: net.plc.url });
  // Each worker exposes its SDK metrics: workflows land on whichever polls.
  const metricsPorts = await freePorts(3);
  workerMetrics = metricsPorts.map((p) => `http://127.0.0.1:${p}/metrics`);
  workers = await Promise.all(metricsPorts.map((port) => spawnWorker(s, { WORKER_METRICS_PORT: String(port) })));
  apis = await Promise.all([0, 1].map(() => spawnApi(s, { BLUESKY_SERVICE: net.pds.url, BLUESKY_PLC_URL: net.plc.url })));
  // From the start of this fresh PDS's stream: nothing is missed however late the consumer connects.
  const firehose = net.pds.url.replace(/^http/, 'ws');
  await s.ds.query(`INSERT INTO firehose_cursors (service, cursor) VALUES ($1, 0)`, [firehose]);
  const healthPort = await freePort();
  consumerHealth = `http://127.0.0.1:${healthPort}`;
  consumer = spawn(process.execPath, ['src/firehose/main.ts'], {
    env: {
      ...process.env, LOG_FILE: '', TEMPORAL_TASK_QUEUE: s.config.TEMPORAL_TASK_QUEUE, BLUESKY_PLC_URL: net.plc.url, FIREHOSE_SERVICE: firehose,
      FIREHOSE_HEALTH_PORT: String(healthPort),
    },
    stdio: 'ignore',
  });
}, 180_000);
afterAll(async () => {
  consumer?.kill('SIGTERM');
  if (consumer) await once(consumer, 'exit');
  await Promise.all(apis.map((a) => a.stop()));
  await Promise.all(workers.map(async (w) => { w.child.kill('SIGTERM'); await w.exited; }));
  await s?.close();
  await net?.close();
});

const via = (i: number) => apis[i % apis.length];

describe('two APIs, three workers and the consumer on one Temporal', () => {
  it('RSVPs through both APIs never over-fill; cancellations and a raised capacity promote the waitlist in arrival order', { timeout: 300_000 }, async () => {
    const owner = await s.user('Owner');
    const { slug } = (await via(0).api('POST', '/v1/events', { token: owner.token, body: {
      name: 'Scaled', startAt: '2027-06-01T18:00:00Z', endAt: '2027-06-01T20:00:00Z', timeZone: 'UTC', capacity: 10,
    } })).body;
    const people = [];
    for (let i = 0; i < 40; i++) people.push(await s.user(`P${i}`));
    const answers = await Promise.all(people.map((p, i) => via(i).api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.status === 'confirmed')).toHaveLength(10);
    const rows = async () => s.ds.query(
      `SELECT a.user_id, a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 ORDER BY a.waitlisted_at NULLS FIRST, a.id`, [slug]) as Promise<{ user_id: string; status: string }[]>;
    const waitlist = (await rows()).filter((r) => r.status === 'waitlisted').map((r) => r.user_id);

    // Each cancellation gives its seat away in its own transaction, through either API ...
    const confirmed = people.filter((_, i) => answers[i].body.status === 'confirmed');
    await Promise.all(confirmed.map((p, i) => via(i + 1).api('DELETE', `/v1/events/${slug}/attendees/me`, { token: p.token })));
    const after = await rows();
    expect(after.filter((r) => r.status === 'confirmed').map((r) => r.user_id).sort()).toEqual(waitlist.slice(0, 10).sort());
    expect(after.filter((r) => r.status === 'waitlisted')).toHaveLength(20);

    // ... and five more seats are filled by waitlist:<slug>, on whichever worker.
    expect((await via(0).api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 15 } })).body.operations).toEqual([{ id: `waitlist:${slug}`, type: 'waitlist' }]);
    await eventually(async () => (await rows()).filter((r) => r.status === 'confirmed').length === 15, { timeoutMs: 120_000, intervalMs: 250 });
    expect((await rows()).filter((r) => r.status === 'confirmed').map((r) => r.user_id).sort()).toEqual(waitlist.slice(0, 15).sort());
  });

  it('a deletion started through one API is followed through the other and completes once', { timeout: 300_000 }, async () => {
    const owner = await s.user('Owner');
    const { slug } = (await via(1).api('POST', '/v1/events', { token: owner.token, body: {
      name: 'Scaled Deletion', startAt: '2027-06-02T18:00:00Z', endAt: '2027-06-02T20:00:00Z', timeZone: 'UTC',
    } })).body;
    // More than one local step removes: the batches are an activity task (the dashboard test below charts its metrics).
    await seedAttendees(s.ds, slug, FEW_ATTENDEES + 1);
    const [started, again] = await Promise.all([0, 1].map((i) => via(i).api('DELETE', `/v1/events/${slug}`, { token: owner.token })));
    expect(started.status).toBe(202);
    expect(again.body.id).toBe(started.body.id); // one operation, whichever API answered
    const op = await eventually(async () => {
      const r = (await via(0).api('GET', `/v1/operations/${started.body.id}`, { token: owner.token })).body;
      return r.status !== 'running' && r;
    }, { timeoutMs: 120_000, intervalMs: 250 });
    expect(op).toMatchObject({ status: 'completed', result: { attendeesRemoved: FEW_ATTENDEES + 1 } });
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
  });

  it('records from the network are ingested once each by the consumer and whichever worker', { timeout: 300_000 }, async () => {
    const author = await pdsAccount(net, 'scaled.test');
    const uris: string[] = [];
    for (let i = 0; i < 30; i++) {
      uris.push((await author.com.atproto.repo.putRecord({
        repo: author.session!.did, collection: EVENT_COLLECTION, rkey: TID.nextStr(), validate: false,
        record: { $type: EVENT_COLLECTION, name: `Scaled ${i}`, createdAt: new Date().toISOString(), startsAt: '2027-05-01T18:00:00.000Z' },
      })).data.uri);
    }
    await eventually(async () => (await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE source_id = ANY($1)`, [uris]))[0].n === 30,
      { timeoutMs: 120_000, intervalMs: 250 });
    const [{ n, distinct }] = await s.ds.query(
      `SELECT count(*)::int AS n, count(DISTINCT source_id)::int AS distinct FROM events WHERE source_did = $1`, [author.session!.did]);
    expect({ n, distinct }).toEqual({ n: 30, distinct: 30 });

    // The consumer says so on its health endpoint: ready, with what it handed off and how far behind it is.
    expect((await fetch(`${consumerHealth}/health/ready`)).status).toBe(200);
    const metrics = await eventually(async () => {
      const text = await (await fetch(`${consumerHealth}/metrics`)).text();
      const handedOff = Number(text.match(/^meetflow_firehose_records_total\{outcome="handed_off"\} (\d+)/m)?.[1] ?? 0);
      return handedOff >= 30 && text;
    }, { timeoutMs: 30_000 });
    expect(metrics).toMatch(/^meetflow_firehose_lag_events \d+/m);
    expect(metrics).toMatch(/^meetflow_firehose_cursor [1-9]\d*/m);
    expect(metrics).toMatch(/^meetflow_firehose_cursor_age_seconds [\d.]+/m);
  });

  it('the Grafana dashboard (deploy/grafana/meetflow.json) charts only metrics these processes expose', async () => {
    const scraped = [
      ...await Promise.all(workerMetrics.map(async (url) => (await fetch(url)).text())), // SDK metrics per workflow and activity type
      await (await fetch(`${apis[0].base}/metrics`)).text(),
      await (await fetch(`${consumerHealth}/metrics`)).text(),
    ].join('\n');
    const dashboard = JSON.parse(readFileSync('deploy/grafana/meetflow.json', 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const names = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(meetflow|temporal)_[a-z_]+/g) ?? [])));
    expect(names.size).toBeGreaterThan(10);
    const exposed = (name: string) => new RegExp(`^${name}[{ ]`, 'm').test(scraped);
    // Failure counters have no sample until something fails: they follow the naming the others prove.
    const unproven = [...names].filter((n) => !exposed(n));
    const seen = [...new Set(scraped.match(/^temporal_[a-z_]+/gm))].join(' ');
    expect(unproven.filter((n) => !/_failed$/.test(n)), `charted but not exposed; the SDK exposes: ${seen}`).toEqual([]);
    expect(exposed('temporal_workflow_completed')).toBe(true); // counters carry no _total suffix here
  });
});
