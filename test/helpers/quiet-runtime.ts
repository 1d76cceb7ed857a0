import { appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';

/**
 * Where the in-process workers' own log lines go: deliberate outages and cancellations make them
 * warn about every retry, which would bury a failing assertion. Failure messages point here.
 */
export const WORKER_LOG = join(process.env.TEST_LOG_DIR ?? join(tmpdir(), 'meetflow-test-logs'), `worker-${process.pid}.log`);

let installed = false;
/** The SDK's runtime for a test process (once: a second install throws), logging to WORKER_LOG. */
export function quietRuntime(): void {
  if (installed) return;
  mkdirSync(join(WORKER_LOG, '..'), { recursive: true });
  Runtime.install({
    logger: new DefaultLogger('WARN', ({ level, message, meta, timestampNanos }) => {
      const at = new Date(Number(timestampNanos / 1_000_000n)).toISOString();
      appendFileSync(WORKER_LOG, `${at} ${level} ${message} ${meta ? inspect(meta, { depth: 4, breakLength: Infinity }) : ''}\n`); // errors may be circular
    }),
    // The SDK core's own lines (poll retries while Temporal is away, an activity finishing after
    // its run was cancelled, the test server's missing capabilities) through the same logger.
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
  installed = true;
}
