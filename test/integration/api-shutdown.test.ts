import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi } from '../helpers/api-process.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => { s = await startStack(); });
afterAll(async () => { await s?.close(); });

describe('the API process on SIGTERM', () => {
  it('answers the request in flight, refuses new connections, then exits 0', async () => {
    const api = await spawnApi(s);
    const owner = await s.user('Host');
    const guest = await s.user('Guest');
    const { slug } = await s.event(owner.token, { capacity: 3 });

    // The event's row lock, held here: the RSVP waits for it inside its transaction.
    const holder = s.ds.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query(`SELECT 1 FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
    const [{ pid }] = await holder.query(`SELECT pg_backend_pid() AS pid`);
    const inFlight = api.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    // The request waits on that lock (not on the text of its query: any waiter blocked by the holder).
    await eventually(async () => (await s.ds.query(
      `SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid])).length > 0);

    api.child.kill('SIGTERM');
    await eventually(async () => api.log.text.includes('draining'));
    expect(await fetch(`${api.base}/health/live`).then(() => 'answered', () => 'refused')).toBe('refused');
    expect(api.child.exitCode).toBeNull(); // still draining

    await holder.rollbackTransaction();
    await holder.release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('confirmed');
    const [code] = await api.exited;
    expect(code).toBe(0);
  });
});
