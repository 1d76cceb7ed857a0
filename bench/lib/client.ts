// Shared by the benchmarks: a loopback-only HTTP client, tokens, timing and percentiles.
import { randomUUID } from 'node:crypto';
import { mintToken } from '../../src/api/auth.ts';
import { loadConfig } from '../../src/config.ts';

const base = process.env.API_URL ?? 'http://127.0.0.1:3000';
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(base)) {
  throw new Error(`benchmarks only send traffic to loopback, not ${base}`);
}
const tokens = loadConfig();

export async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json() as Record<string, unknown> & { [k: string]: never };
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function createUsers(n: number): Promise<{ id: string; token: string }[]> {
  const service = await mintToken(tokens, { sub: randomUUID(), role: 'service' });
  const out: { id: string; token: string }[] = [];
  for (let i = 0; i < n; i += 32) {
    const batch = await Promise.all(Array.from({ length: Math.min(32, n - i) }, async (_, j) => {
      const u = await call('POST', '/v1/users', service, { displayName: `bench ${i + j}` }) as unknown as { id: string };
      return { id: u.id, token: await mintToken(tokens, { sub: u.id }, 24 * 3600) };
    }));
    out.push(...batch);
  }
  return out;
}

export async function createEvent(token: string, capacity: number | null): Promise<string> {
  const e = await call('POST', '/v1/events', token, {
    name: 'bench', startAt: '2030-01-01T18:00:00Z', endAt: '2030-01-01T20:00:00Z', timeZone: 'UTC', capacity,
  }) as unknown as { slug: string };
  return e.slug;
}

export function percentile(sortedMs: number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))];
}

/** Runs `tasks` with at most `concurrency` in flight; returns each task's latency and the wall time. */
export async function runConcurrent(tasks: (() => Promise<unknown>)[], concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      const t0 = performance.now();
      await task();
      latencies.push(performance.now() - t0);
    }
  }));
  const wallMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { latencies, wallMs, perSecond: (tasks.length / wallMs) * 1000 };
}

export const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
