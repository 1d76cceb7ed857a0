import { createServer, type AddressInfo } from 'node:net';

/** A loopback port nothing listens on right now (for a process to start on, or to stand for a service that is gone). */
export const freePort = () => new Promise<number>((ok) => {
  const t = createServer();
  t.listen(0, '127.0.0.1', () => { const p = (t.address() as AddressInfo).port; t.close(() => ok(p)); });
});
