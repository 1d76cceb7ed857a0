import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { eventRemovalActivities } from '../../src/activities/deletion/event.ts';
import { operationTags } from '../../src/temporal/contracts.ts';
import { requestMaterialization } from '../../src/temporal/signals.ts';
import { rowsReferencingEvent, seedAttendees } from '../helpers/seed.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { synapseRoom } from '../helpers/synapse.ts';
import { FAILURE } from '../../src/temporal/failures.ts';

const DAY = 86_400_000;
let s: Stack;
beforeAll(async () => { s = await startStack(); await s.startWorker(); });
afterAll(async () => { await s?.close(); });

const finished = (id: string, token: string, timeoutMs = 120_000) => s.finished(id, token, { timeoutMs });

function dayAt(days: number, hour = 18): Date {
  const d = new Date(Date.now() + (days + 1) * DAY);
  d.setUTCHours(hour, 0, 0, 0);
  return d;
}

async function seriesOf(token: string, rrule: string, start: Date) {
  const res = await s.api('POST', '/v1/series', {
    token, body: { name: 'Deletable', rrule, startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), timeZone: 'UTC' },
  });
  const slug = res.body.slug as string;
  await eventually(async () => {
    const op = await s.api('GET', `/v1/operations/series:${slug}`, { token });
    const p = op.body.status === 'completed' ? op.body.result : op.body.progress;
    return p?.runs >= 1 && p.step !== 'materializing';
  });
  return slug;
}

const seriesEvents = async (slug: string) =>
  (await s.ds.query(`SELECT slug, start_at FROM events WHERE series_slug = $1 ORDER BY start_at`, [slug])) as { slug: string; start_at: Date }[];

describe('event deletion (real dev server, Postgres, Synapse)', () => {
  it('deletes an event with 5,000 attendees and a chat room completely', { timeout: 420_000 }, async () => { // its room's purge may queue on the shared homeserver
    const owner = await s.user('Big Host');
    const guest = await s.user('Guest');
    const created = await s.api('POST', '/v1/events', {
      token: owner.token, body: { name: 'Big Party', startAt: '2027-07-01T18:00:00Z', endAt: '2027-07-01T23:00:00Z', timeZone: 'UTC', chatEnabled: true },
    });
    const { slug } = created.body;
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    const [room] = await eventually(async () => {
      const r = await s.ds.query(`SELECT c.room_id FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1 AND c.room_id IS NOT NULL`, [slug]);
      return r.length && r;
    });
    await eventually(async () => (await s.matrix!.members(room.room_id)).includes(`@mf-${guest.slug}:localhost`));
    await seedAttendees(s.ds, slug, 5000);
    const [{ id: eventId }] = await s.ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);

    const stranger = await s.user();
    expect((await s.api('DELETE', `/v1/events/${slug}`, { token: stranger.token })).status).toBe(403);
    const first = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ id: `delete-event:${slug}`, type: 'delete-event', entity: { kind: 'event', slug } });
    const second = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    expect(second.body.id).toBe(first.body.id);
    // Tombstoned at once: gone from reads, no RSVPs.
    expect((await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).status).toBe(404);

    const op = await finished(first.body.id, owner.token, 360_000);
    expect(op.status).toBe('completed');
    expect(op.result).toMatchObject({ step: 'done', attendeesTotal: 5001, attendeesRemoved: 5001 });
    expect(Object.values(await rowsReferencingEvent(s.ds, eventId)).every((n) => n === 0)).toBe(true);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE id = $1`, [eventId])).toEqual([]);
    expect(await synapseRoom(room.room_id)).toBeNull();
    expect((await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token })).status).toBe(404);
  });

  it('an event with nothing outside the database goes in one step, and the 202 tells it done', async () => {
    const owner = await s.user();
    const { slug } = await s.event(owner.token);
    await seedAttendees(s.ds, slug, 300);
    const [{ id: eventId }] = await s.ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);

    const res = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    expect(res.status).toBe(202);
    // Answered from the run's history: what a later read of the operation tells.
    expect(res.body).toMatchObject({ status: 'completed', result: { step: 'done', attendeesTotal: 300, attendeesRemoved: 300 } });
    expect(res.body).toEqual((await s.api('GET', `/v1/operations/${res.body.id}`, { token: owner.token })).body);
    expect(Object.values(await rowsReferencingEvent(s.ds, eventId)).every((n) => n === 0)).toBe(true);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE id = $1`, [eventId])).toEqual([]);
    // One local step: the tombstone's, which deleted it.
    const history = await s.temporal.workflow.getHandle(res.body.id).fetchHistory();
    const steps = history.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(steps).toHaveLength(1);
    // And one marker of the code's version (each marker is also an upsert of the run's search attributes).
    const versions = history.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
      .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data'].payloads![0].data!).toString()).id);
    expect(versions).toEqual(['delete-event-one-marker']);
  });

  it('with no worker polling, the 202 comes without progress, and the deletion runs once a worker is back', { timeout: 120_000 }, async () => {
    const owner = await s.user();
    const { slug } = await s.event(owner.token);
    await s.stopWorker();
    let res;
    try {
      res = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    } finally {
      await s.startWorker();
    }
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: `delete-event:${slug}`, status: 'running', progress: null, closedAt: null });
    expect(await finished(res.body.id, owner.token)).toMatchObject({ status: 'completed', result: { step: 'done' } });
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
  });

  it('a lone event with more attendees than a batch is tombstoned and removed in batches, as before', async () => {
    const owner = await s.user();
    const { slug } = await s.event(owner.token);
    await seedAttendees(s.ds, slug, 250);
    const handle = await s.temporal.workflow.start('deleteEventWorkflow', {
      ...operationTags('delete-event', slug), taskQueue: s.config.TEMPORAL_TASK_QUEUE, args: [{ eventSlug: slug, batchSize: 100 }],
    });
    expect(await handle.result()).toMatchObject({ step: 'done', attendeesTotal: 250, attendeesRemoved: 250 });
    const history = await handle.fetchHistory();
    expect(history.events!.filter((e) => e.activityTaskCompletedEventAttributes)).not.toHaveLength(0); // the batches' activity
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
  });

  it('its last step refuses while attendees are left, takes them with the rows when told, and finds a gone event done', async () => {
    const owner = await s.user();
    const { slug } = await s.event(owner.token);
    await seedAttendees(s.ds, slug, 3);
    const [{ id: eventId }] = await s.ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);
    const { deleteEventRow } = eventRemovalActivities({ ds: s.ds });
    const inRun = () => new MockActivityEnvironment({ workflowExecution: { workflowId: `delete-event:${slug}`, runId: randomUUID() } }, { logger: new DefaultLogger('ERROR') });

    // After batches that left some (an RSVP that slipped in): nothing is deleted, and the step is retried.
    await expect(inRun().run(deleteEventRow, eventId)).rejects.toThrow(/still has 3 attendees/);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE id = $1`, [eventId])).toHaveLength(1);
    expect((await rowsReferencingEvent(s.ds, eventId))['attendees.event_id']).toBe(3);

    await inRun().run(deleteEventRow, eventId, true); // the few a tombstone counted go with the rows
    expect(await s.ds.query(`SELECT 1 FROM events WHERE id = $1`, [eventId])).toEqual([]);
    expect(Object.values(await rowsReferencingEvent(s.ds, eventId)).every((n) => n === 0)).toBe(true);
    await inRun().run(deleteEventRow, eventId); // run again: already gone is success
  });

  it('a permanent failure before the point of no return restores the event exactly', async () => {
    const owner = await s.user();
    const guest = await s.user();
    const { slug } = await s.event(owner.token, { capacity: 3 });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { status: 'draft' } }); // a status to restore
    // A room id the homeserver rejects outright (400): its deletion can never succeed.
    await s.ds.query(`INSERT INTO chat_rooms (event_id, alias, room_id, status) SELECT id, 'broken-' || slug, 'not-a-room-id', 'active' FROM events WHERE slug = $1`, [slug]);
    const before = await s.ds.query(`SELECT status, capacity, name FROM events WHERE slug = $1`, [slug]);

    const started = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    const op = await finished(started.body.id, owner.token);
    expect(op.status).toBe('failed');
    expect(op.error.type).toBe(FAILURE.eventDeletionAborted);
    expect(await s.ds.query(`SELECT status, capacity, name FROM events WHERE slug = $1`, [slug])).toEqual(before);
    expect((await s.ds.query(`SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1`, [slug]))).toEqual([{ status: 'confirmed' }]);
    expect((await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).body.status).toBe('draft');
  });
});

describe('series and their occurrences', () => {
  it('deleting an occurrence makes it an exception the series never re-creates; deleting the template moves the role', async () => {
    const owner = await s.user();
    const slug = await seriesOf(owner.token, 'FREQ=DAILY;COUNT=6', dayAt(0));
    const events = await seriesEvents(slug);
    const [{ template }] = await s.ds.query(`SELECT t.slug AS template FROM event_series s JOIN events t ON t.id = s.template_event_id WHERE s.slug = $1`, [slug]);
    expect(template).toBe(events[0].slug);

    const third = await s.api('DELETE', `/v1/events/${events[2].slug}`, { token: owner.token });
    expect((await finished(third.body.id, owner.token)).result.series).toBe('exception');
    const tmpl = await s.api('DELETE', `/v1/events/${events[0].slug}`, { token: owner.token });
    expect((await finished(tmpl.body.id, owner.token)).result.series).toBe('template-moved');

    await requestMaterialization(s.temporal, s.config, slug); // a re-materialization must not bring either back
    await eventually(async () => {
      const op = await s.api('GET', `/v1/operations/series:${slug}`, { token: owner.token });
      return op.body.status === 'completed';
    });
    const after = (await seriesEvents(slug)).map((e) => e.slug);
    expect(after).toEqual([events[1], events[3], events[4], events[5]].map((e) => e.slug));
    const [{ now }] = await s.ds.query(`SELECT t.slug AS now FROM event_series s JOIN events t ON t.id = s.template_event_id WHERE s.slug = $1`, [slug]);
    expect(after).toContain(now);
    const exceptions = await s.ds.query(`SELECT kind FROM series_exceptions WHERE series_slug = $1`, [slug]);
    expect(exceptions).toEqual([{ kind: 'deleted' }, { kind: 'deleted' }]);
  });

  it('scope=future keeps earlier occurrences and their series link; scope=all removes everything', async () => {
    const owner = await s.user();
    const slug = await seriesOf(owner.token, 'FREQ=DAILY;COUNT=8', dayAt(0));
    const events = await seriesEvents(slug);
    // "Now" for this deletion is the fourth occurrence: the first three are its past.
    const at = new Date(events[3].start_at.getTime() - 60_000).toISOString();
    const handle = await s.temporal.workflow.start('deleteSeriesWorkflow', {
      ...operationTags('delete-series', slug), taskQueue: s.config.TEMPORAL_TASK_QUEUE, args: [{ seriesSlug: slug, scope: 'future', at }],
    });
    expect(await handle.result()).toMatchObject({ scope: 'future', childrenTotal: 5, childrenDone: 5, failed: [] });
    const kept = await s.ds.query(`SELECT slug, series_slug FROM events WHERE slug = ANY($1) ORDER BY start_at`, [events.map((e) => e.slug)]);
    expect(kept).toEqual(events.slice(0, 3).map((e) => ({ slug: e.slug, series_slug: slug })));
    const [series] = await s.ds.query(`SELECT rrule, status FROM event_series WHERE slug = $1`, [slug]);
    expect(series.status).toBe('active');
    expect(series.rrule).toMatch(/UNTIL=\d{8}T\d{6}Z/);
    await requestMaterialization(s.temporal, s.config, slug);
    await eventually(async () => (await s.api('GET', `/v1/operations/series:${slug}`, { token: owner.token })).body.status === 'completed');
    expect(await seriesEvents(slug)).toHaveLength(3);

    const all = await s.api('DELETE', `/v1/series/${slug}?scope=all`, { token: owner.token });
    expect(all.status).toBe(202);
    const done = await finished(all.body.id, owner.token);
    expect(done.result).toMatchObject({ scope: 'all', childrenDone: 3, failed: [] });
    expect(await s.ds.query(`SELECT 1 FROM event_series WHERE slug = $1`, [slug])).toEqual([]);
    expect(await seriesEvents(slug)).toEqual([]);
    expect(await s.ds.query(`SELECT 1 FROM series_exceptions WHERE series_slug = $1`, [slug])).toEqual([]);
  });
});

describe('group deletion', () => {
  // Its room's purge queues behind whatever else the shared homeserver is purging (the retention
  // test purges 150 rooms): it sets its own time.
  it('deletes the group with its series, events, attendees, chat room and members', { timeout: 420_000 }, async () => {
    const owner = await s.user('Group Owner');
    const member = await s.user('Member');
    const group = await s.api('POST', '/v1/groups', { token: owner.token, body: { name: 'Doomed Group', chatEnabled: true } });
    const g = group.body.slug as string;
    const groupRoom = await eventually(async () => (await s.ds.query(`SELECT room_id FROM chat_rooms c JOIN groups g ON g.id = c.group_id WHERE g.slug = $1`, [g]))[0]?.room_id);
    await s.ds.query(`INSERT INTO group_members (group_id, user_id) SELECT id, $2 FROM groups WHERE slug = $1`, [g, member.id]);
    const e1 = await s.event(owner.token, { groupSlug: g });
    const e2 = await s.event(member.token, { groupSlug: g });
    await seedAttendees(s.ds, e1.slug, 300);
    const start = dayAt(1, 10);
    const series = await s.api('POST', '/v1/series', {
      token: owner.token, body: { name: 'Group Weekly', rrule: 'FREQ=WEEKLY;COUNT=3', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), timeZone: 'UTC', groupSlug: g },
    });
    await eventually(async () => (await seriesEvents(series.body.slug)).length === 3);

    expect((await s.api('DELETE', `/v1/groups/${g}`, { token: member.token })).status).toBe(403);
    const started = await s.api('DELETE', `/v1/groups/${g}`, { token: owner.token });
    expect(started.body.id).toBe(`delete-group:${g}`);
    const op = await finished(started.body.id, owner.token, 360_000);
    expect(op.status).toBe('completed');
    expect(op.result).toMatchObject({ step: 'done', childrenDone: 3, failed: [] }); // one series, two events
    expect(await s.ds.query(`SELECT 1 FROM groups WHERE slug = $1`, [g])).toEqual([]);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = ANY($1) OR series_slug = $2`, [[e1.slug, e2.slug], series.body.slug])).toEqual([]);
    expect(await s.ds.query(`SELECT 1 FROM event_series WHERE slug = $1`, [series.body.slug])).toEqual([]);
    expect(await synapseRoom(groupRoom)).toBeNull();
    expect(await s.ds.query(`SELECT 1 FROM group_members gm LEFT JOIN groups g ON g.id = gm.group_id WHERE g.id IS NULL`)).toEqual([]);
  });
});
