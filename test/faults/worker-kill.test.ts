import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtpAgent } from '@atproto/api';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../../src/domain/lexicon.ts';
import { appPasswordLogin, pdsAccount, startPdsStack } from '../helpers/pds.ts';
import { eventually, type Stack } from '../helpers/stack.ts';
import { synapseRoom } from '../helpers/synapse.ts';
import { spawnWorker } from '../helpers/worker-process.ts';

// The worker process killed (SIGKILL) while work of every family without a crash test of its own
// is in flight: waitlist promotion, series materialization, chat room, Bluesky event and RSVP
// publishing, and a sync. A new worker takes over (an activity the dead one had started is retried
// once its start-to-close timeout passes); each effect then exists exactly once.
let net: TestNetworkNoAppView;
let s: Stack;
let alice: AtpAgent;
let carol: AtpAgent;
beforeAll(async () => {
  ({ net, s } = await startPdsStack());
  await s.stopWorker(); // worker processes only, below
  alice = await pdsAccount(net, 'alice.test', 'alice-pass');
  carol = await pdsAccount(net, 'carol.test', 'carol-pass');
}, 120_000);
const spawned: ChildProcess[] = [];
afterAll(async () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // a failed test leaves none behind
  await s?.close();
  await net?.close();
});

const records = async (agent: AtpAgent, collection: string) =>
  (await agent.com.atproto.repo.listRecords({ repo: agent.session!.did, collection, limit: 100 })).data.records;

describe('a worker killed while every family has work in flight', () => {
  it('the next worker finishes all of it, each effect once', { timeout: 600_000 }, async () => {
    const host = (await appPasswordLogin(s, 'alice.test', 'alice-pass')).body.token as string;
    const { token: guest, user: carolUser } = (await appPasswordLogin(s, 'carol.test', 'carol-pass')).body as { token: string; user: { slug: string } };
    const [waiting, waitingMore] = [await s.user('Waiting'), await s.user('Waiting more')];
    const first = await spawnWorker(s);
    spawned.push(first.child);

    // A published event (record), with chat, one seat: Carol takes it (RSVP record, room), Waiting and Waiting more queue.
    const event = (await s.api('POST', '/v1/events', { token: host, body: {
      name: 'Crash Test', startAt: '2027-07-01T18:00:00Z', endAt: '2027-07-01T20:00:00Z', timeZone: 'UTC',
      capacity: 1, chatEnabled: true, publishToBluesky: true,
    } })).body;
    await eventually(async () => (await s.api('GET', `/v1/events/${event.slug}`, { token: host })).body.bluesky?.uri);
    await s.api('POST', `/v1/events/${event.slug}/attendees`, { token: guest, body: { status: 'going' } });
    for (const w of [waiting, waitingMore]) await s.api('POST', `/v1/events/${event.slug}/attendees`, { token: w.token, body: { status: 'going' } });
    const rsvpOp = `bsky-rsvp:${event.slug}/${carolUser.slug}`;
    await eventually(async () => (await records(carol, RSVP_COLLECTION)).length === 1, { timeoutMs: 60_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; ${await s.whereIs(rsvpOp)}`); });

    // Now, all at once: Carol gives up her seat (Waiting takes it in the same transaction; RSVP
    // record, room), Alice adds a seat (waitlist promotion), a series is created (materialization,
    // its record), Alice asks for a sync; and the worker dies.
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCSeconds(0, 0);
    await Promise.all([
      s.api('DELETE', `/v1/events/${event.slug}/attendees/me`, { token: guest }),
      s.api('PATCH', `/v1/events/${event.slug}`, { token: host, body: { capacity: 2 } }),
      s.api('POST', '/v1/series', { token: host, body: {
        name: 'Crash Series', rrule: 'FREQ=DAILY;COUNT=6', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), timeZone: 'UTC',
      } }).then((r) => { series = r.body.slug; }),
      s.api('POST', '/v1/me/bluesky/sync', { token: host }).then((r) => { sync = r.body.id; }),
    ]);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await spawnWorker(s);
    spawned.push(second.child);
    try {
      const status = async (userId: string) => (await s.ds.query(
        `SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [event.slug, userId]))[0]?.status;
      const long = { timeoutMs: 240_000, intervalMs: 500 };
      await eventually(async () => (await status(waiting.id)) === 'confirmed' && (await status(waitingMore.id)) === 'confirmed', long);
      await eventually(async () => (await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE series_slug = $1`, [series]))[0].n === 6, long);
      await eventually(async () => {
        const rsvps = await records(carol, RSVP_COLLECTION);
        return rsvps.length === 1 && (rsvps[0].value as { status: string }).status === `${RSVP_COLLECTION}#notgoing`;
      }, long);
      await eventually(async () => (await s.ds.query(
        `SELECT 1 FROM events WHERE series_slug = $1 AND bluesky_uri IS NOT NULL`, [series])).length === 1, long);
      const op = await s.finished(sync, host, long);
      expect(op.status).toBe('completed');

      // Each once: one record per event on Alice's PDS (the event, the series' next occurrence), one room.
      const names = (await records(alice, EVENT_COLLECTION)).map((r) => (r.value as { name: string }).name).sort();
      expect(names).toEqual(['Crash Series', 'Crash Test']);
      // The room may still be on its way (the killed worker may have been making it): wait for it.
      const room = await eventually(async () => (await s.ds.query(
        `SELECT c.room_id FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1 AND c.room_id IS NOT NULL`, [event.slug]))[0], long);
      expect(await synapseRoom(room.room_id)).not.toBeNull();
      expect((await s.ds.query(`SELECT count(*)::int AS n FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1`, [event.slug]))[0].n).toBe(1);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

let series = '';
let sync = '';
