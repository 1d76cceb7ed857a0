import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { HttpMatrixClient, isRejection, MatrixError } from '../../src/matrix/client.ts';
import { setupTracing } from '../../src/tracing.ts';

// The client's transport against a stand-in homeserver that answers what a real one (or a proxy
// in front of it) can: the real Synapse is behind the integration tests (chat.test.ts).
const seen: { method: string; url: string; body: string }[] = [];
let hugeSent = 0;
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, body });
    if (req.url === '/_synapse/admin/v2/rooms/!slow%3Ax') {
      res.writeHead(429, { 'Retry-After': '2', 'Content-Type': 'text/plain' }).end('slow down');
    } else if (req.url?.startsWith('/_synapse/admin/v2/rooms/!proxy')) {
      res.writeHead(502, { 'Content-Type': 'text/html' }).end('<html>bad gateway</html>');
    } else if (req.url?.startsWith('/_synapse/admin/v2/rooms/!cut')) {
      res.writeHead(200, { 'Content-Length': '100' }).write('{"delete_id":');
      setTimeout(() => req.socket.destroy(), 20);
    } else if (req.url?.startsWith('/_synapse/admin/v2/rooms/!huge')) {
      // 1 MiB at a time, up to 64 MiB, as long as the client reads.
      res.writeHead(200, { 'Content-Type': 'application/json' }).write('{"delete_id":"');
      const chunk = 'x'.repeat(1024 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 64) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', more); // until the client reads on, or hangs up
        }
        res.end('"}');
      };
      res.on('close', () => { hugeSent = sent; });
      more();
    } else if (req.method === 'DELETE') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ delete_id: 'd1' }));
    } else {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'complete' }));
    }
  });
});
let client: HttpMatrixClient;
const spans = new InMemorySpanExporter();
setupTracing('meetflow-test', spans);

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  client = new HttpMatrixClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, 'token');
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('HttpMatrixClient', () => {
  it('sends a DELETE\'s JSON body whole (the purge) and waits for its status', async () => {
    await client.purgeRoom('!room:x');
    expect(seen.find((s) => s.method === 'DELETE')).toEqual({ method: 'DELETE', url: '/_synapse/admin/v2/rooms/!room%3Ax', body: '{"purge":true,"block":false}' });
    expect(seen.at(-1)!.url).toBe('/_synapse/admin/v2/rooms/delete_status/d1');
  });

  it('each call is a client span with its answer\'s status (fetch\'s instrumentation does not see node:http)', async () => {
    spans.reset();
    await client.purgeRoom('!traced:x');
    await client.purgeRoom('!proxy:x').catch(() => undefined);
    expect(spans.getFinishedSpans().map((s) => [s.name, s.attributes['http.response.status_code']])).toEqual([
      ['DELETE matrix', 200], ['GET matrix', 200], ['DELETE matrix', 502],
    ]);
  });

  it('a rate limit without a JSON body carries the Retry-After header\'s wait', async () => {
    const err = await client.purgeRoom('!slow:x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatrixError);
    expect(err).toMatchObject({ status: 429, errcode: 'M_LIMIT_EXCEEDED', retryAfterMs: 2000 });
  });

  it('an answer that is not JSON (a proxy\'s error page) is an error with its status', async () => {
    await expect(client.purgeRoom('!proxy:x')).rejects.toMatchObject({ status: 502, errcode: 'M_UNKNOWN', message: 'Matrix 502 M_UNKNOWN: Bad Gateway' });
  });

  it('an answer over 32 MiB is cut off, not read whole, and fails the call for good (a retry would meet the same)', async () => {
    const err = await client.purgeRoom('!huge:x').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 200, errcode: 'M_TOO_LARGE', message: expect.stringMatching(/DELETE \/_synapse\/admin\/v2\/rooms\/!huge%3Ax over 33554432 bytes/) });
    expect(isRejection(err)).toBe(true);
    await vi.waitFor(() => expect(hugeSent).toBeGreaterThan(0));
    expect(hugeSent).toBeLessThan(64);
  });

  it('a connection cut off mid-answer fails the call instead of hanging it', async () => {
    await expect(client.purgeRoom('!cut:x')).rejects.toThrow(/aborted|ECONNRESET|socket hang up/);
  });
});
