import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { clientInterceptors } from '../../src/temporal/request-id-interceptors.ts';
import { createApp } from '../../src/api/app.ts';
import { mintToken, type Role } from '../../src/api/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import { createRedis } from '../../src/redis.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { workflowBundlePath } from './workflow-bundle.ts';
import { quietRuntime, WORKER_LOG } from './quiet-runtime.ts';
import { createMatrixClient } from '../../src/matrix/create-client.ts';

const { EventType, PendingWorkflowTaskState: TaskState, TaskQueueType } = temporal.api.enums.v1;

/**
 * The real services started by `npm test` (Postgres, Redis, Temporal dev server), wired the way
 * production wires them, with a task queue of this test file's own so files never steal each
 * other's tasks.
 */
export async function startStack(env: Record<string, string> = {}) {
  quietRuntime();
  const taskQueue = `test-${randomUUID()}`;
  // The run's prebuilt bundle (with OpenTelemetry's interceptors when the test file turned tracing on: createWorker picks it).
  const config = loadConfig({
    ...process.env, TEMPORAL_TASK_QUEUE: taskQueue, WORKER_SHUTDOWN_GRACE: '5s', WORKFLOW_BUNDLE_PATH: workflowBundlePath(), ...env,
  });
  const ds = await createDataSource(config).initialize();
  const redis = createRedis(config);
  const temporal = new Client({
    connection: await Connection.connect(config.TEMPORAL_CONNECTION), namespace: config.TEMPORAL_NAMESPACE,
    interceptors: { workflow: clientInterceptors() },
  });
  const { app, followUps } = createApp({ ds, redis, temporal, config });
  const matrix = createMatrixClient(config);
  const workerConnection = await NativeConnection.connect(config.TEMPORAL_CONNECTION);

  let worker: Worker | null = null;
  let running: Promise<void> | null = null;
  const stopRelay = followUps.start();

  const stack = {
    config, ds, redis, temporal, app, matrix,

    async startWorker() {
      worker = await createWorker(workerConnection, { ds, redis, config, temporal, matrix });
      running = worker.run();
    },
    async stopWorker() {
      worker?.shutdown();
      await running;
      worker = null;
    },
    async close() {
      await stopRelay();
      await stack.stopWorker();
      await workerConnection.close();
      await temporal.connection.close();
      redis.disconnect();
      await ds.destroy();
    },

    token: (sub: string, role?: Role) => mintToken(config, { sub, ...(role ? { role } : {}) }),

    /** One HTTP request through the whole Hono app; answers status and parsed JSON body. */
    async api(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
      if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await app.request(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
      const text = await res.text();
      return { status: res.status, body: (text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as any };
    },

    /** A user created through the API (service role), with a token of its own. */
    async user(displayName = 'Test User') {
      const service = await stack.token(randomUUID(), 'service');
      const res = await stack.api('POST', '/v1/users', { token: service, body: { displayName } });
      if (res.status !== 201) throw new Error(`creating user failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { ...res.body as { id: string; slug: string }, token: await stack.token(res.body.id) };
    },

    /**
     * Waits on `GET /v1/operations/:id?wait=` (the API's long poll) until the operation no longer
     * runs; answers it. On timeout the error says where it stands: status, progress and the last
     * failure of its pending activities.
     */
    async finished(id: string, token: string, { timeoutMs = 30_000 }: { timeoutMs?: number } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last: any;
      do {
        const wait = Math.min(10, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));
        last = (await stack.api('GET', `/v1/operations/${encodeURIComponent(id)}?wait=${wait}`, { token })).body;
        if (last.status !== 'running') return last;
      } while (Date.now() < deadline);
      throw new Error(`operation ${id} did not finish within ${timeoutMs} ms: ${await stack.whereIs(id, last)}`);
    },

    /** One line on where a workflow stands (for failure messages). */
    async whereIs(workflowId: string, operation?: unknown): Promise<string> {
      const handle = stack.temporal.workflow.getHandle(workflowId);
      const d = await handle.describe().catch((e: Error) => e);
      if (d instanceof Error) return `${workflowId}: ${d.message}; worker log: ${WORKER_LOG}`;
      const pending = (d.raw.pendingActivities ?? []).map((a) =>
        `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure yet'}`).join('; ');
      const outcome = d.status.name === 'RUNNING' ? '' : `; outcome: ${await handle.result().then((r) => JSON.stringify(r), (e: Error) => `${e.message} (${(e.cause as Error | undefined)?.message ?? ''})`)}`;
      // A task that no worker picks up or finishes shows here, and the history says how it got there.
      const task = d.raw.pendingWorkflowTask;
      const taskLine = task ? `workflow task ${TaskState[task.state ?? 0]} attempt ${task.attempt}` : 'no workflow task pending';
      const events = await handle.fetchHistory().then((h) => (h.events ?? []).map((e) =>
        `${e.eventId} ${EventType[e.eventType ?? 0].replace('EVENT_TYPE_', '')}`).join(', '), (e: Error) => e.message);
      return `${workflowId} ${d.status.name} (run ${d.runId}, ${d.historyLength} events)${outcome}; operation ${JSON.stringify(operation)}; `
        + `pending activities: ${pending || 'none'}; ${taskLine}; history: ${events}; ${await stack.pollers()}; worker log: ${WORKER_LOG}`;
    },

    /** Who polled this stack's workflow task queue, and when last (a task nobody picks up: is anyone polling?). */
    async pollers(): Promise<string> {
      const q = await stack.temporal.workflowService.describeTaskQueue({
        namespace: config.TEMPORAL_NAMESPACE, taskQueue: { name: config.TEMPORAL_TASK_QUEUE }, taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      }).catch((e: Error) => e);
      if (q instanceof Error) return `pollers unknown: ${q.message}`;
      const seen = (q.pollers ?? []).map((p) => `${p.identity} at ${new Date(Number(p.lastAccessTime?.seconds ?? 0) * 1000).toISOString()}`);
      return `workflow pollers (now ${new Date().toISOString()}): ${seen.join(', ') || 'none'}`;
    },

    async event(ownerToken: string, fields: Record<string, unknown> = {}) {
      const res = await stack.api('POST', '/v1/events', {
        token: ownerToken,
        body: { name: 'Test Event', startAt: '2027-06-01T18:00:00+02:00', endAt: '2027-06-01T21:00:00+02:00', timeZone: 'Europe/Berlin', ...fields },
      });
      if (res.status !== 201) throw new Error(`creating event failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { slug: string; capacity: number | null };
    },
  };
  return stack;
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** Polls until `check` returns a truthy value (real services answer asynchronously). */
export async function eventually<T>(check: () => Promise<T>, { timeoutMs = 30_000, intervalMs = 100 } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last: ${JSON.stringify(last)}; worker log: ${WORKER_LOG})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
