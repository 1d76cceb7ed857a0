// Shared by the benchmarks: a loopback-only typed API client, tokens, timing and percentiles.
import { randomUUID } from 'node:crypto';
import createClient from 'openapi-fetch';
import type { paths } from './api-types.ts';
import { mintToken } from '../../src/api/auth.ts';
import { loadConfig } from '../../src/config.ts';

const base = process.env.API_URL ?? 'http://127.0.0.1:3000';
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(base)) {
  throw new Error(`benchmarks only send traffic to loopback, not ${base}`);
}
const tokens = loadConfig();

/**
 * The typed client of the API, generated from its OpenAPI document (bench/lib/api-types.ts,
 * `npm run openapi:types`): every path, parameter and body here is checked against the contract.
 */
export const api = createClient<paths>({ baseUrl: base });
export const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The answer's data; a 4xx or 5xx stops the benchmark with its status and body. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) throw new Error(`${response.url}: ${response.status} ${JSON.stringify(error)}`);
  return data;
}

/** Waits on an operation (the API's long poll) until it is no longer running. */
export async function settled(id: string, token: string) {
  for (;;) {
    const op = await ok(api.GET('/v1/operations/{id}', { params: { path: { id }, query: { wait: 10 } }, headers: auth(token) }));
    if (op.status !== 'running') return op;
  }
}

export async function createUsers(n: number): Promise<{ id: string; token: string }[]> {
  const service = await mintToken(tokens, { sub: randomUUID(), role: 'service' });
  const out: { id: string; token: string }[] = [];
  for (let i = 0; i < n; i += 32) {
    const batch = await Promise.all(Array.from({ length: Math.min(32, n - i) }, async (_, j) => {
      const u = await ok(api.POST('/v1/users', { headers: auth(service), body: { displayName: `bench ${i + j}` } }));
      return { id: u.id, token: await tokenFor(u.id) };
    }));
    out.push(...batch);
  }
  return out;
}

export async function createEvent(token: string, capacity: number | null): Promise<string> {
  const e = await ok(api.POST('/v1/events', { headers: auth(token), body: {
    name: 'bench', startAt: '2030-01-01T18:00:00Z', endAt: '2030-01-01T20:00:00Z', timeZone: 'UTC', capacity,
  } }));
  return e.slug;
}

/** A day's token for a user made outside the API (rows seeded in SQL). */
export const tokenFor = (userId: string) => mintToken(tokens, { sub: userId }, 24 * 3600);

/** The event with its counts, as the token's user reads it. */
export const getEvent = (slug: string, token: string) =>
  ok(api.GET('/v1/events/{slug}', { params: { path: { slug } }, headers: auth(token) }));

/** RSVP (`going` unless said) as the token's user. */
export const rsvp = (slug: string, token: string, status: 'going' | 'notgoing' = 'going') =>
  ok(api.POST('/v1/events/{slug}/attendees', { params: { path: { slug } }, headers: auth(token), body: { status } }));

export const patchEvent = (slug: string, token: string, body: { description?: string; capacity?: number }) =>
  ok(api.PATCH('/v1/events/{slug}', { params: { path: { slug } }, headers: auth(token), body }));

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
