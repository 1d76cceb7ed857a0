import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * The health endpoint of a process without an HTTP API of its own (the worker, the firehose
 * consumer): `/health/live` while the process runs, `/health/ready` while `ready()` says it does
 * its work (503 while it waits for a dependency), `/metrics` (Prometheus) when it has a registry.
 */
export function serveHealth(opts: { port: number; host: string; ready: () => boolean; details?: () => Record<string, unknown>; registry?: Registry }): Server {
  const json = (status: number, body: unknown) => [status, 'application/json', JSON.stringify(body)] as const;
  const server = createServer((req, res) => {
    void (async () => {
      const ready = opts.ready();
      const [status, type, body] = req.url === '/health/live' ? json(200, { status: 'ok' })
        : req.url === '/health/ready' ? json(ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', ...opts.details?.() })
          : req.url === '/metrics' && opts.registry ? [200, opts.registry.contentType, await opts.registry.metrics()] as const
            : json(404, { error: { code: 'not_found', message: 'no such route' } });
      res.writeHead(status, { 'Content-Type': type }).end(body);
    })().catch(() => res.writeHead(500).end());
  });
  server.listen(opts.port, opts.host);
  server.unref();
  return server;
}
