import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type ReadableSpan, type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { createMiddleware } from 'hono/factory';

/**
 * OpenTelemetry traces: an API request, the workflows it starts or signals and their activities
 * in one trace (Temporal's OpenTelemetry interceptors carry the context in headers), with the
 * Postgres queries, Redis commands and outgoing HTTP calls (fetch; src/matrix/client.ts records
 * its own) made meanwhile. Exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * ..._TRACES_ENDPOINT) is set; off otherwise, and then every tracer is OpenTelemetry's no-op.
 */
let workflowSpans: { exporter: SpanExporter; resource: Resource } | null = null;

/** Turns tracing on for this process (the entry point calls it first); a test hands in its own exporter. */
export function setupTracing(service: string, exporter?: SpanExporter): boolean {
  const otlp = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const target = exporter ?? (otlp ? new OTLPTraceExporter() : null);
  if (!target) return false;
  const resource = new Resource({ 'service.name': service });
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(exporter ? new SimpleSpanProcessor(target) : new BatchSpanProcessor(target));
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  // Before pg and ioredis are first required (TypeORM loads pg when a data source is made;
  // src/redis.ts requires ioredis when a client is made): that is how their calls are seen.
  registerInstrumentations({ instrumentations: [new PgInstrumentation(), new IORedisInstrumentation(), new UndiciInstrumentation()] });
  workflowSpans = { exporter: target, resource };
  return true;
}

export const tracingOn = (): boolean => workflowSpans !== null;

/** Where the worker sends the spans its workflows record (through a sink); nowhere when tracing is off. */
export function workflowSpanTarget(): { exporter: SpanExporter; resource: Resource } {
  return workflowSpans ?? { exporter: discard, resource: new Resource({}) };
}

const discard: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }), // ExportResultCode.SUCCESS
  shutdown: async () => undefined,
};

/** A server span per API request (the parent of everything the request starts). */
export const traceRequests = createMiddleware(async (c, next) => {
  await trace.getTracer('meetflow-api').startActiveSpan(`${c.req.method} ${c.req.path}`, { kind: SpanKind.SERVER }, async (span) => {
    try {
      await next();
      span.setAttributes({ 'http.request.method': c.req.method, 'http.route': c.req.routePath, 'http.response.status_code': c.res.status });
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    } finally {
      span.end();
    }
  });
});
