// `npm run firehose`: the network consumer (FIREHOSE_SERVICE) until SIGTERM/SIGINT; then it stops
// the subscription, lets hand-offs in flight finish, closes Postgres and exits 0.
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config.ts';
import { createDataSource } from '../db/data-source.ts';
import { startFirehoseConsumer } from './consumer.ts';

const config = loadConfig();
const ds = await createDataSource(config).initialize();
const temporal = new Client({ connection: await Connection.connect({ address: config.TEMPORAL_ADDRESS }), namespace: config.TEMPORAL_NAMESPACE });
const consumer = await startFirehoseConsumer({ ds, temporal, config });
console.log(`firehose consumer reading ${config.FIREHOSE_SERVICE} from cursor ${consumer.stats.cursor ?? 'now'}`);

const stop = async () => {
  await consumer.stop();
  console.log(`firehose consumer stopped at cursor ${consumer.stats.cursor}: ${consumer.stats.handedOff} handed off, ${consumer.stats.deadLettered} dead-lettered`);
  await temporal.connection.close();
  await ds.destroy();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
