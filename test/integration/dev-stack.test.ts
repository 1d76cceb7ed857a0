import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/stack.ts';
import { freePorts } from '../../scripts/free-ports.ts';

describe('npm run dev', () => {
  // The whole dev stack (Postgres, Redis, Temporal, Synapse, worker, API, consumer): heavy, so it
  // sets its own time.
  it('starts with its data under a private home (mode 700), answers ready, and stops cleanly on SIGTERM', { timeout: 420_000 }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'meetflow-home-'));
    chmodSync(home, 0o700);
    const [pg, redis, temporal, ui, synapse, api, closed] = await freePorts(7);
    // Not the test run's own services: the dev stack starts and owns its own (and its worker bundles at start).
    const {
      DATABASE_URL: _d, REDIS_URL: _r, TEMPORAL_ADDRESS: _t, MATRIX_HOMESERVER_URL: _m, MATRIX_ACCESS_TOKEN: _a, WORKFLOW_BUNDLE_PATH: _w, ...env
    } = process.env;
    const child = spawn('bash', ['scripts/dev.sh'], {
      env: {
        ...env, MEETFLOW_DATA_DIR: join(home, '.data'), DEV_PG_PORT: `${pg}`, DEV_REDIS_PORT: `${redis}`,
        DEV_TEMPORAL_PORT: `${temporal}`, DEV_TEMPORAL_UI_PORT: `${ui}`, DEV_SYNAPSE_PORT: `${synapse}`, PORT: `${api}`,
        FIREHOSE_SERVICE: `ws://127.0.0.1:${closed}`, // loopback only: nothing listens there, the consumer keeps retrying
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = once(child, 'exit');
    let pgDir: string | undefined;
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`npm run dev exited with ${child.exitCode}:\n${out.slice(-3000)}`);
        return out.includes('meetflow is up');
      }, { timeoutMs: 360_000, intervalMs: 500 });
      pgDir = /the cluster lives in (\S+)/.exec(out)?.[1];
      if (process.getuid?.() === 0) expect(pgDir, out.slice(-2000)).toMatch(/^\/var\/lib\/postgresql\/meetflow\//);
      const ready = await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${api}/health/ready`).catch(() => null);
        return res?.status === 200 && res.json();
      }, { timeoutMs: 30_000, intervalMs: 250 });
      expect(ready).toMatchObject({ status: 'ok' });

      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code, out.slice(-3000)).toBe(0);
      for (const port of [pg, redis, temporal, synapse, api]) {
        const refused = await fetch(`http://127.0.0.1:${port}/`).then(() => false, () => true);
        expect(refused, `port ${port} still answers after the stack stopped`).toBe(true);
      }
    } finally {
      if (child.exitCode === null) { // a failure above: let the script stop what it started
        child.kill('SIGTERM');
        const stopped = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(r, 60_000, false))]);
        if (!stopped) child.kill('SIGKILL');
      }
      rmSync(home, { recursive: true, force: true });
      if (pgDir) rmSync(pgDir, { recursive: true, force: true });
    }
  });
});
