import { createServer, type Server } from 'node:http';

/**
 * The worker's own health endpoint (WORKER_HEALTH_PORT): `/health/live` while the process runs,
 * `/health/ready` only while the worker polls its task queue (503 while it waits for Temporal,
 * Postgres or Redis, or restarts after losing them).
 */
export function workerHealth(port: number, host: string, isPolling: () => boolean): Server {
  const server = createServer((req, res) => {
    const ready = isPolling();
    const [status, body] = req.url === '/health/live' ? [200, { status: 'ok' }]
      : req.url === '/health/ready' ? [ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', polling: ready }]
        : [404, { error: { code: 'not_found', message: 'no such route' } }];
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  });
  server.listen(port, host);
  server.unref();
  return server;
}
