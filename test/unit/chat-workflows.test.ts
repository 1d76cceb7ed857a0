import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
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

  it('deletes every expired room through child workflows, at most 10 at once, batch after batch; a room that fails for good or whose closing is cancelled is listed with its reason', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const purged: string[] = [];
    // Room 11's closing is cancelled by hand (an operator, or anyone with its operation id) while it runs.
    let closing11!: () => void;
    const room11Closing = new Promise<void>((r) => { closing11 = r; });
    let release11!: () => void;
    const room11Released = new Promise<void>((r) => { release11 = r; });
    await devServerStubWorker({
      findExpiredChatRooms: finder,
      closeChatRoom: async ({ chatRoomId: id }) => {
        if (id === '0007') throw ApplicationFailure.nonRetryable('Matrix 403 M_FORBIDDEN: not allowed', 'MatrixRejected');
        if (id === '0011') { closing11(); await room11Released; return 0; }
        inFlight++; maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--; purged.push(id);
        return 1;
      },
      markChatRoomDeleted: async () => {},
    }, async (client, taskQueue) => {
      const run = await client.workflow.start('chatRetentionWorkflow', {
        workflowId: `chat-retention:${randomUUID()}`, taskQueue, args: [{ retentionDays: 30 }],
      });
      await room11Closing;
      await client.workflow.getHandle('chat-room-delete:room-11').cancel();
      const result = await run.result();
      release11();
      expect(result).toMatchObject({ step: 'done', found: 250, deleted: 248, failed: 2, skipped: 0 });
      expect(result.failures).toEqual(expect.arrayContaining([
        { alias: 'room-7', reason: 'Matrix 403 M_FORBIDDEN: not allowed' },
        { alias: 'room-11', reason: 'cancelled' }, // its failure carries no message of its own
      ]));
    });
    expect(purged.sort()).toEqual(rooms.map((r) => r.id).filter((id) => id !== '0007' && id !== '0011'));
    expect(maxInFlight).toBeLessThanOrEqual(10);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('dryRun lists what would go and deletes nothing', async () => {
    let touched = false;
    const touch = async () => { touched = true; };
    await suite.withWorker({
      findExpiredChatRooms: finder, markChatRoomDeleted: touch,
      closeChatRoom: async () => { touched = true; return 0; },
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
