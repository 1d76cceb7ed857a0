// `npm run api`: serves the HTTP API on PORT; on SIGTERM/SIGINT stops accepting connections,
// lets in-flight requests finish (at most API_SHUTDOWN_TIMEOUT_MS), then closes Postgres, Redis and
// the Temporal connection.
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { loadConfig } from '../config.ts';
import { createDataSource } from '../db/data-source.ts';
import { createRedis } from '../redis.ts';
import { createTemporalClient } from '../temporal/client.ts';
import { createApp } from './app.ts';
import { limitConnectionsPerClient, receiveLimits } from './connections.ts';
import { purgeExpiredKeys } from '../db/idempotency-keys.ts';
import { purgeOldReceipts } from '../db/deletion-receipts.ts';
import { log } from '../logger.ts';
import { setupTracing } from '../tracing.ts';

setupTracing('meetflow-api');
const config = loadConfig();
log.setBindings({ service: 'api' });
const ds = await createDataSource(config).initialize();
const redis = createRedis(config);
const temporal = createTemporalClient(config);
const { app, followUps } = createApp({ ds, redis, temporal, config });
const stopRelay = followUps.start(); // follow-ups recorded while Temporal was away
const purge = setInterval(() => {
  purgeExpiredKeys(ds).catch((err: Error) => log.warn({ err }, 'purging idempotency keys failed'));
  purgeOldReceipts(ds).catch((err: Error) => log.warn({ err }, 'purging deletion receipts failed'));
}, 3_600_000);

const server = serve({ fetch: app.fetch, port: config.PORT, hostname: '0.0.0.0', serverOptions: receiveLimits(config) }, (info) => {
  log.info({ port: info.port }, `api listening on http://127.0.0.1:${info.port} (docs: /docs)`);
});
limitConnectionsPerClient(server as Server, config);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'api draining');
  // A hard deadline: a request that never finishes must not keep the process alive.
  setTimeout(() => { log.error('api drain deadline passed, exiting'); process.exit(1); }, config.API_SHUTDOWN_TIMEOUT_MS).unref();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  clearInterval(purge);
  await stopRelay();
  await Promise.allSettled([ds.destroy(), redis.quit(), temporal.connection.close()]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
