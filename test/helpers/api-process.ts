import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { eventually, type Stack } from './stack.ts';
import { freePort } from '../../scripts/free-ports.ts';

/** The real API (`node src/api/main.ts`) as its own process on the stack's services and task queue. */
export async function spawnApi(s: Stack, env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/api/main.ts'], {
    env: { ...process.env, LOG_FILE: '', TEMPORAL_TASK_QUEUE: s.config.TEMPORAL_TASK_QUEUE, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = { text: '' };
  child.stdout.on('data', (d) => { log.text += d; });
  child.stderr.on('data', (d) => { log.text += d; });
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200, { timeoutMs: 60_000, intervalMs: 200 });
  /** One request; answers status and parsed JSON body (like `Stack.api`). */
  async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
    const headers: Record<string, string> = {};
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    return { status: res.status, body: (text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as any };
  }
  return { child, log, exited, base, api, stop: async () => { child.kill('SIGTERM'); await exited; } };
}
