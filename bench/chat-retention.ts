// Rooms closed per minute by the retention workflow (notice, members removed, purge, row marked)
// against a real Synapse, and the cost per room split between the homeserver and orchestration.
// Baseline, same run: the same homeserver calls made directly with the same concurrency (10).
// Several rounds, pooled: on 2 cores the homeserver's own cost per room moves by a tenth from one
// half to the next, and one round's ratio with it.
import { summarize } from './lib/summary.ts';
import { randomUUID } from 'node:crypto';
import { mintToken } from '../src/api/auth.ts';
import { HttpMatrixClient } from '../src/matrix/client.ts';
import { CLOSING_NOTICE, KICK_REASON } from '../src/activities/chat/retention.ts';
import { loadConfig } from '../src/config.ts';
import { createDataSource } from '../src/db/data-source.ts';
import { createTemporalClient } from '../src/temporal/client.ts';
import { api, auth, fmt, ok } from './lib/client.ts';

/** Rooms per side and round, closed in two halves. */
const HALF = Math.floor(Number(process.env.BENCH_ROOMS ?? 200) / 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = 2 * HALF * ROUNDS;
const config = loadConfig();
const ds = await createDataSource(config).initialize();
const temporal = createTemporalClient(config);
const matrix = new HttpMatrixClient(config.MATRIX_HOMESERVER_URL!, config.MATRIX_ACCESS_TOKEN!);
const bot = await matrix.whoami();
const member = await matrix.ensureUser(`bench-${randomUUID().slice(0, 8)}`, 'bench member');
const [owner] = await ds.query(`INSERT INTO users (slug, display_name) VALUES ($1, 'bench') RETURNING id`, [`bench-${randomUUID()}`]);

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  const queue = [...items];
  await Promise.all(Array.from({ length: concurrency }, async () => { for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x); }));
}

/** `n` rooms of events that ended 60 days ago, each with one invited member. */
async function seed(tag: string, n: number) {
  const rooms: { id: string; roomId: string }[] = [];
  await pool(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
    const slug = `bench-${tag}-${i}-${randomUUID().slice(0, 6)}`;
    const [e] = await ds.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, chat_enabled)
      VALUES ($1, $1, now() - interval '61 days', now() - interval '60 days', 'UTC', $2, true) RETURNING id`, [slug, owner.id]);
    const roomId = await matrix.createRoom(`meetflow-event-${slug}`, slug, 'bench');
    await matrix.invite(roomId, member);
    const [row] = await ds.query(`INSERT INTO chat_rooms (event_id, alias, room_id, status) VALUES ($1, $2, $3, 'active') RETURNING id`,
      [e.id, `meetflow-event-${slug}`, roomId]);
    rooms.push({ id: row.id, roomId });
  });
  return rooms;
}

/** Baseline: the homeserver work alone, on rooms seeded for it. */
async function directly(rooms: { id: string; roomId: string }[]): Promise<number> {
  const t0 = performance.now();
  await pool(rooms, 10, async (r) => {
    await matrix.sendNotice(r.roomId, `bench-${r.id}`, CLOSING_NOTICE);
    for (const m of (await matrix.members(r.roomId)).filter((x) => x !== bot)) await matrix.kick(r.roomId, m, KICK_REASON);
    await matrix.purgeRoom(r.roomId);
  });
  const ms = performance.now() - t0;
  await ds.query(`UPDATE chat_rooms SET status = 'deleted' WHERE id = ANY($1::uuid[])`, [rooms.map((r) => r.id)]);
  return ms;
}

/** The retention workflow doing the same through Temporal (the seeded rooms are the only ones past the period). */
const admin = await mintToken(config, { sub: owner.id, role: 'admin' });
async function throughWorkflow(): Promise<{ ms: number; deleted: number; failed: number }> {
  const t0 = performance.now();
  const op = await ok(api.POST('/v1/admin/chat-retention/run', { headers: auth(admin), body: { retentionDays: 30 } }));
  // Waited for with one long poll: asking the API every 100 ms (a describe and a progress query
  // each) cost Temporal and the worker more CPU than the run itself, on the cores Synapse needs.
  await temporal.workflow.getHandle(op.id).result();
  const done = await ok(api.GET('/v1/operations/{id}', { params: { path: { id: op.id } }, headers: auth(admin) }));
  const result = done.result as { deleted: number; failed: number } | null;
  return { ms: performance.now() - t0, deleted: result?.deleted ?? 0, failed: result?.failed ?? 0 };
}

// Untimed first, each side closes a few rooms: the direct calls' client is warm from the seeding,
// and a first run (the route, the workflow type's first task) took 80–110 ms from its start to its
// first closing, the next ones 25–50 ms.
await directly(await seed('warm-direct', 10));
await seed('warm-workflow', 10);
await throughWorkflow();

// Each round, half of its rooms each, in the order baseline, workflow, workflow, baseline: a
// homeserver that gets faster or slower as the run goes on (purges finishing in the background,
// caches) weighs on both alike.
let directMs = 0;
let workflowMs = 0;
const ratios: string[] = [];
const result = { deleted: 0, failed: 0 };
for (let round = 0; round < ROUNDS; round++) {
  let roundDirect = 0;
  let roundWorkflow = 0;
  for (const side of ['direct', 'workflow', 'workflow', 'direct'] as const) {
    const rooms = await seed(`${side}-${randomUUID().slice(0, 4)}`, HALF);
    if (side === 'direct') roundDirect += await directly(rooms);
    else {
      const w = await throughWorkflow();
      roundWorkflow += w.ms;
      result.deleted += w.deleted;
      result.failed += w.failed;
    }
  }
  directMs += roundDirect;
  workflowMs += roundWorkflow;
  ratios.push(`${((roundDirect / roundWorkflow) * 100).toFixed(0)}%`);
}
await ds.destroy();
await temporal.connection.close();

const perMin = (ms: number) => ((N / ms) * 60_000).toFixed(0);
console.log(`rooms: ${N} per side in ${ROUNDS} rounds (each: notice, 1 member removed, purge); concurrency 10`);
console.log(`baseline, homeserver calls only:   ${perMin(directMs).padStart(6)} rooms/min   ${fmt(directMs / N)} per room`);
console.log(`retention workflow (deleted ${result.deleted}, failed ${result.failed}): ${perMin(workflowMs).padStart(6)} rooms/min   ${fmt(workflowMs / N)} per room`);
summarize({ bench: 'chat-retention', measure: `rooms/min, ${N} rooms in ${ROUNDS} rounds`, meetflow: perMin(workflowMs), baseline: `${perMin(directMs)} (homeserver calls only)`,
  ratio: `${((directMs / workflowMs) * 100).toFixed(0)}% of bare`, target: '>= 90% of bare' });
console.log(`each round: ${ratios.join(', ')} of bare`);
console.log(`orchestration share per room: ${fmt((workflowMs - directMs) / N)} (${(((workflowMs - directMs) / workflowMs) * 100).toFixed(0)}% of the workflow's time)`);
