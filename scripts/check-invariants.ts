// `npm run check:invariants`: lists rows that break the data's structural promises; exits 1 if any.
// `npm test` runs it after the whole suite, against everything the tests wrote.
import { loadConfig } from '../src/config.ts';
import { createDataSource } from '../src/db/data-source.ts';
import { findViolations, INVARIANTS } from '../src/db/invariants.ts';

const ds = await createDataSource(loadConfig()).initialize();
try {
  const violations = await findViolations(ds);
  if (Object.keys(violations).length) {
    console.error('invariant violations:', JSON.stringify(violations, null, 2));
    process.exitCode = 1;
  } else {
    console.log(`invariants hold: ${Object.keys(INVARIANTS).length} checks, none broken`);
  }
} finally {
  await ds.destroy();
}
