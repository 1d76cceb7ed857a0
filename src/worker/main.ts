// `npm run worker`: polls the meetflow task queue until SIGTERM/SIGINT, then stops polling, lets
// running activities finish within WORKER_SHUTDOWN_GRACE, closes Postgres and Redis, exits 0.
// Dependencies that are down (at start, or lost later) are waited for with backoff: the worker
// says so, reports not-ready on WORKER_HEALTH_PORT, and never exits for it.
import { Client } from '@temporalio/client';
import { makeTelemetryFilterString, NativeConnection, Runtime, type Worker, type WorkerStatus } from '@temporalio/worker';
import type { DataSource } from 'typeorm';
import { createMatrixClient } from '../matrix/create-client.ts';
import { loadConfig } from '../config.ts';
import { createDataSource } from '../db/data-source.ts';
import { createRedis } from '../redis.ts';
import { followUpRelay } from '../follow-ups/outbox.ts';
import { ensureSchedules } from '../temporal/schedules.ts';
import { clientInterceptors } from '../temporal/request-id-interceptors.ts';
import { setupTracing } from '../tracing.ts';
import { serveHealth } from '../process-health.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorker } from './worker.ts';
import { waitFor as waitForIt } from '../wait-for.ts';
import { log, temporalLogger } from '../logger.ts';

setupTracing('meetflow-worker');
const config = loadConfig();
log.setBindings({ service: 'worker' });
Runtime.install({
  logger: temporalLogger(),
  telemetryOptions: {
    // Core's own lines (warnings and worse) go through the same logger.
    logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'WARN' }) },
    ...(config.WORKER_METRICS_PORT ? { metrics: { prometheus: { bindAddress: `${config.WORKER_METRICS_HOST}:${config.WORKER_METRICS_PORT}` } } } : {}),
  },
  shutdownSignals: [], // handled below: a worker still waiting for Temporal must stop too
});

let stopping = false;
let worker: Worker | null = null;
const stop = () => { stopping = true; worker?.shutdown(); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
if (config.WORKER_HEALTH_PORT) {
  // Ready while it runs and both its pollers poll (a poller that failed or shut down stops the work).
  const polling = (s: WorkerStatus | undefined) => s?.runState === 'RUNNING' && s.workflowPollerState === 'POLLING' && s.activityPollerState === 'POLLING';
  serveHealth({
    port: config.WORKER_HEALTH_PORT, host: config.WORKER_METRICS_HOST, ready: () => polling(worker?.getStatus()),
    details: () => {
      const s = worker?.getStatus();
      return {
        polling: polling(s),
        ...(s && {
          state: s.runState, workflowPoller: s.workflowPollerState, activityPoller: s.activityPollerState,
          inFlight: { workflowTasks: s.numInFlightWorkflowActivations, activities: s.numInFlightNonLocalActivities, localActivities: s.numInFlightLocalActivities },
          cachedWorkflows: s.numCachedWorkflows,
        }),
      };
    },
  });
}

const waitFor = <T>(what: string, step: () => Promise<T>) => waitForIt('worker', what, step, () => stopping);

const redis = createRedis(config);
let ds: DataSource | null = null;
try {
  ds = await waitFor('Postgres', () => createDataSource(config).initialize());
  while (ds && !stopping) {
    const deps = ds;
    const connected = await waitFor('Temporal', async () => {
      const connection = await NativeConnection.connect(config.TEMPORAL_CONNECTION);
      // The activities' client shares the worker's connection (Rust core's): no second gRPC stack
      // in this process (bench/event-deletion.ts: a deletion's three cancels go through it).
      const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, interceptors: { workflow: clientInterceptors() } });
      try {
        await ensureSchedules(temporal, config);
        return { connection, temporal, worker: await createWorker(connection, { ds: deps, redis, config, temporal, matrix: createMatrixClient(config) }) };
      } catch (err) {
        await connection.close();
        throw err;
      }
    });
    if (!connected) break;
    worker = connected.worker;
    if (stopping) worker.shutdown();
    const stopRelay = followUpRelay({ ds: deps, temporal: connected.temporal, config }).start();
    log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: config.TEMPORAL_ADDRESS }, `worker polling task queue ${config.TEMPORAL_TASK_QUEUE}`);
    try {
      await worker.run();
    } catch (err) {
      log.error({ reason: (err as Error).message.split('\n')[0] }, 'worker stopped polling; starting again');
      await sleep(1000);
    } finally {
      await stopRelay();
      worker = null;
      await connected.connection.close().catch(() => undefined);
    }
  }
  log.info('worker stopped');
} finally {
  await ds?.destroy();
  redis.disconnect();
}
