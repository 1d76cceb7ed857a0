import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { SIGNALS } from '../../src/temporal/contracts.ts';
import type { ExpiredRoom } from '../../src/activities/chat/index.ts';
import { devServerStubWorker, timeSkippingSuite } from '../helpers/stub-workers.ts';

const suite = timeSkippingSuite();

describe('chatRoomWorkflow', () => {
  it('retries a homeserver that fails, then reconciles members once per burst of signals', async () => {
    let ensureAttempts = 0;
    const syncs: string[] = [];
    await suite.withWorker({
      ensureChatRoom: async () => {
        if (++ensureAttempts < 3) throw new Error('connect ECONNREFUSED');
        return { state: 'ready', roomId: '!room:localhost' };
      },
      syncChatMembers: async (t) => { syncs.push(t.slug); return { invited: 2, removed: 1 }; },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('chatRoomWorkflow', {
        workflowId: `chat-room:${randomUUID()}`, taskQueue, args: [{ kind: 'event', slug: 'party', idleTimeout: '1 hour' }],
        signal: SIGNALS.chatSync,
      });
      await suite.env.sleep('10 minutes');
      await handle.signal(SIGNALS.chatSync);
      expect(await handle.result()).toMatchObject({ state: 'ready', roomId: '!room:localhost', rounds: 2, invited: 4, removed: 2, step: 'done' });
    });
    expect(syncs).toEqual(['party', 'party']);
  });

  it('ends without touching members when chat is disabled or the entity is gone', async () => {
    for (const state of ['disabled', 'gone'] as const) {
      let synced = false;
      await suite.withWorker({
        ensureChatRoom: async () => ({ state }),
        syncChatMembers: async () => { synced = true; return { invited: 0, removed: 0 }; },
      }, async (taskQueue) => {
        const handle = await suite.env.client.workflow.signalWithStart('chatRoomWorkflow', {
          workflowId: `chat-room:${randomUUID()}`, taskQueue, args: [{ kind: 'group', slug: 'g' }], signal: SIGNALS.chatSync,
        });
        expect(await handle.result()).toMatchObject({ state, roomId: null, rounds: 0 });
      });
      expect(synced).toBe(false);
    }
  });
});

describe('chatRetentionWorkflow', () => {
  const rooms: ExpiredRoom[] = Array.from({ length: 250 }, (_, i) => ({ id: String(i).padStart(4, '0'), alias: `room-${i}`, roomId: `!r${i}:x` }));
  const finder = async (q: { afterId: string | null; limit: number }) =>
    rooms.filter((r) => q.afterId === null || r.id > q.afterId).slice(0, q.limit);

  it('closes every expired room in the run itself (no child per room), a page to one activity that closes 10 rooms at once, page after page; rooms that fail for good are listed with the reason', async () => {
    const pages: (string | null)[] = [];
    const tasks: { size: number; concurrency?: number }[] = [];
    const purged: string[] = [];
    const marked: string[] = [];
    await devServerStubWorker({
      findExpiredChatRooms: async (q) => { pages.push(q.afterId); return finder(q); },
      closeChatRooms: async ({ rooms: page, concurrency }) => {
        tasks.push({ size: page.length, concurrency });
        // A page that fails for good as a whole: each of its rooms is listed with the reason.
        if (page.some((r) => r.id === '0210')) throw ApplicationFailure.nonRetryable('no Matrix homeserver configured', 'ChatNotConfigured');
        const failures = [];
        for (const { id, alias } of page) {
          if (id === '0007') failures.push({ alias, reason: 'Matrix 403 M_FORBIDDEN: not allowed' });
          else purged.push(id);
        }
        return { failures };
      },
      markChatRoomDeleted: async (id) => { marked.push(id); },
    }, async (client, taskQueue) => {
      const run = await client.workflow.start('chatRetentionWorkflow', {
        workflowId: `chat-retention:${randomUUID()}`, taskQueue, args: [{ retentionDays: 30 }],
      });
      const result = await run.result();
      expect(result).toMatchObject({ step: 'done', found: 250, deleted: 199, failed: 51, skipped: 0 });
      expect(result.failures).toEqual([
        { alias: 'room-7', reason: 'Matrix 403 M_FORBIDDEN: not allowed' },
        ...rooms.slice(200).map((r) => ({ alias: r.alias, reason: 'no Matrix homeserver configured' })),
      ]);
      // Each page is an activity of the run, named for its rooms in the Web UI; no child workflows.
      const { events } = await run.fetchHistory();
      const summaries = events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'closeChatRooms')
        .map((e) => JSON.parse(Buffer.from(e.userMetadata!.summary!.data!).toString()));
      expect(summaries).toEqual(['close 200 rooms, room-0 to room-199', 'close 50 rooms, room-200 to room-249']);
      expect(events!.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'closeChatRoom')).toBe(false);
      expect(events!.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
      // Pages are looked for in local steps (markers, no activity task), and a short page is the last.
      expect(events!.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'findExpiredChatRooms')).toBe(false);
      expect(events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(2);
    });
    expect(pages).toEqual([null, '0199']);
    expect(tasks).toEqual([{ size: 200, concurrency: 10 }, { size: 50, concurrency: 10 }]);
    expect(purged).toEqual(rooms.slice(0, 200).map((r) => r.id).filter((id) => id !== '0007'));
    expect(marked).toEqual([]); // closeChatRooms marks each row itself: no step of the run's own
  });

  it('a cancelled run ends cancelled, marks nothing it did not close and starts no further page', async () => {
    const started: string[] = [];
    const marked: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let pageStarted!: () => void;
    const running = new Promise<void>((r) => { pageStarted = r; });
    await devServerStubWorker({
      findExpiredChatRooms: finder,
      closeChatRooms: async ({ rooms: page }) => {
        started.push(page[0].id);
        pageStarted();
        await held; // the page hangs until the run is cancelled
        return { failures: [] };
      },
      markChatRoomDeleted: async (id) => { marked.push(id); },
    }, async (client, taskQueue) => {
      const run = await client.workflow.start('chatRetentionWorkflow', {
        workflowId: `chat-retention:${randomUUID()}`, taskQueue, args: [{ retentionDays: 30 }],
      });
      await running;
      await run.cancel();
      await expect(run.result()).rejects.toThrow(WorkflowFailedError);
      expect((await run.describe()).status.name).toBe('CANCELLED');
      release();
    });
    expect(started).toEqual(['0000']);
    expect(marked).toEqual([]);
  });

  it('dryRun lists what would go and deletes nothing', async () => {
    let touched = false;
    const touch = async () => { touched = true; };
    await suite.withWorker({
      findExpiredChatRooms: finder, markChatRoomDeleted: touch,
      closeChatRooms: async () => { touched = true; return { failures: [] }; },
    }, async (taskQueue) => {
      const result = await suite.env.client.workflow.execute('chatRetentionWorkflow', {
        workflowId: `chat-retention:${randomUUID()}`, taskQueue, args: [{ retentionDays: 30, dryRun: true }],
      });
      expect(result).toMatchObject({ dryRun: true, found: 250, deleted: 0 });
      expect(result.wouldDelete).toEqual(rooms.map((r) => r.alias));
    });
    expect(touched).toBe(false);
  });
});
