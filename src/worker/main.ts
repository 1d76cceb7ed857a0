// `npm run worker`: polls the meetflow task queue until SIGTERM/SIGINT, then stops polling, lets
// running activities finish within WORKER_SHUTDOWN_GRACE, closes Postgres and Redis, exits 0.
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config.ts';
import { createDataSource } from '../db/data-source.ts';
import { createRedis } from '../redis.ts';
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
try {
  const worker = await createWorker(connection, { ds, redis, config });
  console.log(`worker polling task queue ${config.TEMPORAL_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS}`);
  await worker.run();
  console.log('worker stopped');
} finally {
  await connection.close();
  await ds.destroy();
  redis.disconnect();
}
