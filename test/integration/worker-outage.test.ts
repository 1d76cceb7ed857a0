import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Door } from '../helpers/door.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { freePort } from '../../scripts/free-ports.ts';

let s: Stack;
beforeAll(async () => { s = await startStack(); });
afterAll(async () => { await s?.close(); });


describe('a worker whose Temporal is unreachable', () => {
  it('waits (not ready, still alive) instead of exiting, polls once Temporal answers, and stops cleanly', { timeout: 240_000 }, async () => {
    const door = await Door.create(s.config.TEMPORAL_ADDRESS, { open: false }); // shut: Temporal unreachable
    const healthPort = await freePort();
    const child = spawn(process.execPath, ['src/worker/main.ts'], {
      env: {
        ...process.env, LOG_FILE: '', TEMPORAL_ADDRESS: `127.0.0.1:${door.port}`, TEMPORAL_TASK_QUEUE: s.config.TEMPORAL_TASK_QUEUE,
        WORKFLOW_BUNDLE_PATH: s.config.WORKFLOW_BUNDLE_PATH, WORKER_HEALTH_PORT: `${healthPort}`, WORKER_SHUTDOWN_GRACE: '5s',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    const exited = once(child, 'exit');
    const health = async (path: string) => (await fetch(`http://127.0.0.1:${healthPort}${path}`).catch(() => null))?.status;
    try {
      await eventually(async () => (log.match(/Temporal unavailable/g) ?? []).length >= 2, { timeoutMs: 60_000 });
      expect(child.exitCode).toBeNull();
      expect(await health('/health/live')).toBe(200);
      expect(await health('/health/ready')).toBe(503);

      expect(await (await fetch(`http://127.0.0.1:${healthPort}/health/ready`)).json()).toEqual({ status: 'unavailable', polling: false });

      await door.open();
      await eventually(async () => (await health('/health/ready')) === 200, { timeoutMs: 120_000, intervalMs: 250 });
      // Its log line, written before it polls, can still come through the pipe after the health answer.
      await eventually(async () => log.includes('worker polling'), { timeoutMs: 10_000 });
      // What it does, for operators: its pollers, the work in flight, its cache.
      expect(await (await fetch(`http://127.0.0.1:${healthPort}/health/ready`)).json()).toMatchObject({
        status: 'ok', polling: true, state: 'RUNNING', workflowPoller: 'POLLING', activityPoller: 'POLLING',
        inFlight: { workflowTasks: expect.any(Number), activities: expect.any(Number), localActivities: expect.any(Number) },
        cachedWorkflows: expect.any(Number),
      });

      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code, log.slice(-2000)).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await door.shut();
    }
  });
});
