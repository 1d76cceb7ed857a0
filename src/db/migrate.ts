// `npm run migrate`: applies pending migrations in one transaction; any failure exits non-zero.
import { loadConfig } from '../config.ts';
import { createDataSource } from './data-source.ts';
import { log } from '../logger.ts';

const ds = createDataSource(loadConfig());
await ds.initialize();
try {
  const applied = await ds.runMigrations({ transaction: 'all' });
  log.info({ applied: applied.map((m) => m.name) }, applied.length ? 'migrations applied' : 'schema up to date');
} finally {
  await ds.destroy();
}
