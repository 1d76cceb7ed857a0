// Free loopback ports for services a script or a test starts and binds a moment later.
// `node scripts/free-ports.ts N` prints N of them on one line.
//
// They are taken below the kernel's ephemeral range: a port from `listen(0)` lies inside that
// range, where any outgoing connection of a busy test run may take it between the choice and the
// service's own bind (CI saw Temporal fail with "address already in use" that way).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';

const LOWEST = 10_000;

function ephemeralStart() {
  try { return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]); } catch { return 32_768; }
}

const bind = (port: number) => new Promise<Server | null>((ok) => {
  const s = createServer();
  s.once('error', () => ok(null));
  s.listen(port, '127.0.0.1', () => ok(s));
});

/** N distinct free ports, all held open while they are chosen (so none repeats). */
export async function freePorts(n: number): Promise<number[]> {
  const top = ephemeralStart();
  const span = top - LOWEST;
  const held: Server[] = [];
  try {
    if (span < 1000) { // an unusual range: fall back to the kernel's choice
      for (let i = 0; i < n; i++) held.push((await bind(0))!);
    } else {
      for (let tries = 0; held.length < n; tries++) {
        if (tries > 10_000) throw new Error(`no ${n} free ports between ${LOWEST} and ${top}`);
        const s = await bind(LOWEST + Math.floor(Math.random() * span));
        if (s) held.push(s);
      }
    }
    return held.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(held.map((s) => new Promise((ok) => s.close(ok))));
  }
}

export const freePort = async () => (await freePorts(1))[0];

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log((await freePorts(Number(process.argv[2] ?? 1))).join(' '));
