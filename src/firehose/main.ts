// `npm run firehose`: the network consumer (FIREHOSE_SERVICE) until SIGTERM/SIGINT; then it stops
// the subscription, closes Postgres and exits 0 (the cursor stays behind anything not handed off).
// Postgres down at start is waited for; Temporal, PLC or Postgres lost later are retried by the
// consumer without skipping a record.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadConfig } from '../config.ts';
import { serveHealth } from '../process-health.ts';
import { createDataSource } from '../db/data-source.ts';
import { createTemporalClient } from '../temporal/client.ts';
import { waitFor } from '../wait-for.ts';
import { startFirehoseConsumer } from './consumer.ts';
import { log } from '../logger.ts';
import { setupTracing } from '../tracing.ts';

setupTracing('meetflow-firehose');
const config = loadConfig();
log.setBindings({ service: 'firehose' });
let stopping = false;
const temporal = createTemporalClient(config); // lazy: connects (and reconnects) on use
// Live at once; ready once the consumer reads (not while it waits for Postgres).
const registry = new Registry();
collectDefaultMetrics({ register: registry });
let reading = false;
if (config.FIREHOSE_HEALTH_PORT) {
  serveHealth({ port: config.FIREHOSE_HEALTH_PORT, host: config.FIREHOSE_HEALTH_HOST, registry, ready: () => reading && !stopping });
}
const ds = await waitFor('firehose', 'Postgres', () => createDataSource(config).initialize(), () => stopping);
const consumer = ds && await waitFor('firehose', 'Postgres', () => startFirehoseConsumer({ ds, temporal, config, registry }), () => stopping);
reading = Boolean(consumer);
if (consumer) log.info({ source: config.FIREHOSE_SERVICE, cursor: consumer.stats.cursor ?? null }, `firehose consumer reading ${config.FIREHOSE_SERVICE} from cursor ${consumer.stats.cursor ?? 'now'}`);

const stop = async () => {
  stopping = true;
  await consumer?.stop();
  if (consumer) {
    const { cursor, handedOff, deadLettered, retried } = consumer.stats;
    log.info({ cursor, handedOff, deadLettered, retried }, 'firehose consumer stopped');
  }
  await temporal.connection.close().catch(() => undefined);
  await ds?.destroy();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
