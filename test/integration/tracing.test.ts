import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { setupTracing } from '../../src/tracing.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// Tracing on, with an in-memory exporter: set up before the stack, whose API, client and worker
// (activities, and workflows through their span sink) then all record into it.
const spans = new InMemorySpanExporter();
setupTracing('meetflow-test', spans);
let s: Stack;
beforeAll(async () => { s = await startStack(); await s.startWorker(); }, 120_000);
afterAll(async () => { await s?.close(); });

describe('OpenTelemetry traces', () => {
  it('one trace spans the API request, the workflow it starts and that workflow\'s activities', { timeout: 120_000 }, async () => {
    const owner = await s.user();
    const { slug } = (await s.api('POST', '/v1/events', { token: owner.token, body: {
      name: 'Traced Deletion', startAt: '2027-11-01T18:00:00Z', endAt: '2027-11-01T20:00:00Z', timeZone: 'UTC',
    } })).body;
    const deleted = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    expect(deleted.status).toBe(202);
    await s.finished(deleted.body.id, owner.token);

    const request = spans.getFinishedSpans().find((span) => span.name === `DELETE /v1/events/${slug}`)!;
    expect(request).toBeDefined();
    const traceId = request.spanContext().traceId;
    const names = await eventually(async () => {
      const inTrace = spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId).map((span) => span.name);
      return inTrace.some((n) => n.startsWith('RunWorkflow:deleteEventWorkflow')) && inTrace.some((n) => n === 'RunActivity:tombstoneEvent') && inTrace;
    }, { timeoutMs: 30_000 });
    expect(names).toEqual(expect.arrayContaining([
      'StartWorkflow:deleteEventWorkflow', 'RunWorkflow:deleteEventWorkflow', 'StartActivity:tombstoneEvent', 'RunActivity:tombstoneEvent',
    ]));
    // The Postgres queries and Redis commands made for it are in the same trace: the request's own
    // (rate limit in Redis, the event read), and an activity's (the tombstone's step, which deletes this lone event) under its span.
    const inTrace = spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    expect(inTrace.some((span) => span.name.startsWith('pg.query'))).toBe(true);
    expect(inTrace.some((span) => /^(evalsha|eval|incr|multi|exec|get|set)/i.test(span.name))).toBe(true);
    const tombstone = inTrace.find((span) => span.name === 'RunActivity:tombstoneEvent')!;
    expect(inTrace.some((span) => span.name.startsWith('pg.query') && span.parentSpanId === tombstone.spanContext().spanId)).toBe(true);
    // Not the same trace as an unrelated request.
    await s.api('GET', '/v1/events', { token: owner.token });
    const other = spans.getFinishedSpans().find((span) => span.name === 'GET /v1/events')!;
    expect(other.spanContext().traceId).not.toBe(traceId);
  });
});
