import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config.ts';
import { log } from '../logger.ts';

type Limits = Pick<Config, 'API_MAX_CONNECTIONS_PER_CLIENT' | 'API_REQUEST_TIMEOUT_MS'>;
/** The longest a client may take to send a request's headers (within API_REQUEST_TIMEOUT_MS). */
const HEADERS_TIMEOUT_MS = 10_000;

/**
 * The HTTP server's own limits on a request being received: its headers within 10 s, the whole of
 * it within API_REQUEST_TIMEOUT_MS (Node's defaults, 60 s and 5 min, let a client trickling bytes
 * hold a connection that long), checked every second (the default: every 30 s).
 */
export const receiveLimits = (config: Limits): ServerOptions => ({
  headersTimeout: Math.min(HEADERS_TIMEOUT_MS, config.API_REQUEST_TIMEOUT_MS),
  requestTimeout: config.API_REQUEST_TIMEOUT_MS,
  connectionsCheckingInterval: 1000,
});

/**
 * One client: an IPv4 address, or the /64 an IPv6 address is in (a subscriber has all 2^64 of
 * them, so each on its own would be no limit at all).
 */
export function clientOf(address: string | undefined): string {
  const ip = (address ?? 'unknown').replace(/^::ffff:(?=\d+\.)/, '').replace(/%.*$/, '');
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.split('::');
  const [h, t] = [head ? head.split(':') : [], tail ? tail.split(':') : []];
  const groups = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}

/**
 * At most API_MAX_CONNECTIONS_PER_CLIENT open connections per client (0: no limit); more are
 * closed as they arrive. Without it one client holding connections (headers trickled a byte at a
 * time) used every file descriptor of the process, and the API refused everyone, health included.
 */
export function limitConnectionsPerClient(server: Server, config: Limits): void {
  const max = config.API_MAX_CONNECTIONS_PER_CLIENT;
  if (max === 0) return;
  const open = new Map<string, number>();
  const warned = new Set<string>();
  server.on('connection', (socket: Socket) => {
    const client = clientOf(socket.remoteAddress);
    const n = open.get(client) ?? 0;
    if (n >= max) {
      if (!warned.has(client)) { warned.add(client); log.warn({ client, max }, 'connections refused: this client holds the most it may'); }
      socket.destroy();
      return;
    }
    open.set(client, n + 1);
    socket.once('close', () => {
      const left = open.get(client)! - 1;
      if (left) open.set(client, left);
      else { open.delete(client); warned.delete(client); }
    });
  });
}
