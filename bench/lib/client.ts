// Shared by the benchmarks: a loopback-only typed API client, tokens, timing and percentiles.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
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

type Method = 'get' | 'post' | 'patch';
type Json<T> = T extends { content: { 'application/json': infer J } } ? J : never;
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Body<O> = O extends { requestBody: { content: { 'application/json': infer B } } } ? B : undefined;
type Answer<O> = O extends { responses: infer R } ? Json<R[200 & keyof R]> : never;

/**
 * The timed requests: node:http over kept-alive connections. `fetch` (undici) cost this process
 * about twice the CPU per request, and on 2 cores that CPU is taken from the API and Postgres
 * being measured (bench/rsvp-throughput.ts at concurrency 64: the GET baseline went from about
 * 1,300-1,750 to 1,900-2,400 req/s with this client). Typed by the same OpenAPI paths; a 4xx or
 * 5xx stops the benchmark, as `ok` does.
 */
const keptAlive = new http.Agent({ keepAlive: true });
function timed<P extends keyof paths, M extends Method>(method: M, path: P, slug: string, token: string, body?: Body<Operation<P, M>>): Promise<Answer<Operation<P, M>>> {
  const url = new URL(path.replace('{slug}', encodeURIComponent(slug)), base);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: method.toUpperCase(), agent: keptAlive,
      headers: { ...auth(token), ...(data === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode! >= 400) reject(new Error(`${method.toUpperCase()} ${url.pathname}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** The event with its counts, as the token's user reads it. */
export const getEvent = (slug: string, token: string) => timed('get', '/v1/events/{slug}', slug, token);

/** RSVP (`going` unless said) as the token's user. */
export const rsvp = (slug: string, token: string, status: 'going' | 'notgoing' = 'going') =>
  timed('post', '/v1/events/{slug}/attendees', slug, token, { status });

export const patchEvent = (slug: string, token: string, body: { description?: string; capacity?: number }) =>
  timed('patch', '/v1/events/{slug}', slug, token, body);

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
