import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../scripts/free-ports.ts';

/**
 * A TCP door in front of a real service (Temporal, Postgres, Redis, Synapse): shut (listener
 * closed, open connections cut), stalled (open connections and new ones kept, nothing forwarded: a
 * server that hangs) and opened again on the same port, so the API and the worker of this stack
 * lose the service while the rest of the suite keeps it.
 */
export class Door {
  private server: Server | null = null;
  private stalled = false;
  private sockets = new Set<Socket>();
  readonly port: number;
  private readonly target: string;
  constructor(port: number, target: string) { this.port = port; this.target = target; }
  static async create(target: string, { open = true } = {}) {
    const port = await freePort();
    const door = new Door(port, target);
    if (open) await door.open();
    return door;
  }
  async open() {
    if (this.server?.listening && !this.stalled) return;
    await this.shut();
    const [host, port] = this.target.split(':');
    await this.listen((client) => {
      const upstream = createConnection(Number(port), host);
      for (const s of [client, upstream]) this.hold(s);
      client.pipe(upstream).pipe(client);
    });
  }
  /** Nothing forwarded any more: open connections stay open, new ones are accepted; none is answered. */
  stall() {
    for (const s of this.sockets) { s.unpipe(); s.pause(); }
    this.server?.removeAllListeners('connection').on('connection', (client: Socket) => this.hold(client));
    this.stalled = true;
  }
  private hold(s: Socket) {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
  }
  private listen(onConnection: (client: Socket) => void) {
    this.server = createServer(onConnection);
    return new Promise<void>((ok) => this.server!.listen(this.port, '127.0.0.1', ok));
  }
  async shut() {
    this.stalled = false;
    const closed = new Promise((ok) => this.server?.close(ok) ?? ok(null)); // resolves once every connection is gone
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}


/**
 * A door in front of the service this variable of the test environment names (`host:port` or a
 * URL), and the variable rewritten to go through it, for `startStack`.
 */
export async function doorFor(variable: 'TEMPORAL_ADDRESS' | 'DATABASE_URL' | 'REDIS_URL' | 'MATRIX_HOMESERVER_URL'): Promise<{ door: Door; env: Record<string, string> }> {
  const value = process.env[variable]!;
  if (!value.includes('://')) {
    const door = await Door.create(value);
    return { door, env: { [variable]: `127.0.0.1:${door.port}` } };
  }
  const url = new URL(value);
  const door = await Door.create(url.host);
  url.host = `127.0.0.1:${door.port}`;
  return { door, env: { [variable]: url.toString() } };
}
