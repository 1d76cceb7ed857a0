// `npm run worker`: polls the meetflow task queue until SIGTERM/SIGINT, then stops polling, lets
// running activities finish within WORKER_SHUTDOWN_GRACE, closes Postgres and Redis, exits 0.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { createMatrixClient } from '../activities/chat/create-matrix-client.ts';
import { loadConfig } from '../config.ts';
import { createDataSource } from '../db/data-source.ts';
import { createRedis } from '../redis.ts';
import { ensureChatRetentionSchedule } from '../temporal/schedules.ts';
import { createWorker } from './worker.ts';

const config = loadConfig();
Runtime.install({
  telemetryOptions: config.WORKER_METRICS_PORT
    ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.WORKER_METRICS_PORT}` } } }
    : undefined,
  // The Runtime turns these signals into worker.shutdown(); worker.run() then resolves.
  shutdownSignals: ['SIGINT', 'SIGTERM'],
});

const ds = await createDataSource(config).initialize();
const redis = createRedis(config.REDIS_URL);
const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
const temporal = new Client({ connection: await Connection.connect({ address: config.TEMPORAL_ADDRESS }), namespace: config.TEMPORAL_NAMESPACE });
try {
  await ensureChatRetentionSchedule(temporal, config);
  const worker = await createWorker(connection, { ds, redis, config, temporal, matrix: createMatrixClient(config) });
  console.log(`worker polling task queue ${config.TEMPORAL_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS}`);
  await worker.run();
  console.log('worker stopped');
} finally {
  await connection.close();
  await temporal.connection.close();
  await ds.destroy();
  redis.disconnect();
}
