import { createMiddleware } from 'hono/factory';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'meetflow_http_requests_total', help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'], registers: [registry],
  });
  const duration = new Histogram({
    name: 'meetflow_http_request_duration_seconds', help: 'HTTP request latency by route',
    labelNames: ['method', 'route'], registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const middleware = createMiddleware(async (c, next) => {
    const stop = duration.startTimer();
    await next();
    // The matched route pattern, not the raw path, keeps label cardinality bounded.
    const route = c.req.routePath;
    stop({ method: c.req.method, route });
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  });
  return { registry, middleware };
}
