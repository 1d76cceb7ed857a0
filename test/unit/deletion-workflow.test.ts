import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TombstonedEvent } from '../../src/activities/deletion/event.ts';
import { eventually } from '../helpers/stack.ts';
import { devServerStubWorker } from '../helpers/stub-workers.ts';

const { EventType } = temporal.api.enums.v1;

describe('deleteEventWorkflow', () => {
  it('cancelled while its tombstone is being written: the tombstone is lifted again, nothing is deleted', async () => {
    let tombstoning!: () => void;
    const tombstoneStarted = new Promise<void>((r) => { tombstoning = r; });
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const restored: string[] = [];
    const deleted: string[] = [];
    await devServerStubWorker({
      tombstoneEvent: async (slug): Promise<TombstonedEvent> => {
        tombstoning();
        await released; // committed, as far as the workflow can tell, after the cancel arrived
        return { eventId: 'e1', slug, seriesSlug: null, originalStart: null, attendees: 1, chatRoom: { id: 'r1', alias: `room-${slug}` }, blueskyUri: null, rsvpRecords: 0 };
      },
      restoreEvent: async (slug) => { restored.push(slug); },
      deleteEventRow: async (id) => { deleted.push(id); },
    }, async (client, taskQueue) => {
      const slug = `party-${randomUUID()}`;
      // A short task timeout: the worker reports a task whose local step runs on well before it ends,
      // and the cancel reaches the workflow while the tombstone's step still runs (a slow database).
      const handle = await client.workflow.start('deleteEventWorkflow', {
        workflowId: `delete-event:${slug}`, taskQueue, args: [{ eventSlug: slug }], workflowTaskTimeout: '2s',
      });
      await tombstoneStarted;
      await handle.cancel();
      try {
        await eventually(async () => {
          const types = (await handle.fetchHistory()).events!.map((e) => e.eventType);
          const asked = types.indexOf(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
          return asked >= 0 && types.slice(asked).includes(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
        }, { timeoutMs: 30_000 });
      } finally {
        release();
      }
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(restored).toEqual([slug]);
    });
    expect(deleted).toEqual([]);
  });

  it('a lone event deleted whose other operations could not be cancelled: it cancels them in a step of its own and reports what it deleted', async () => {
    const cancelled: string[][] = [];
    await devServerStubWorker({
      tombstoneEvent: async (slug, others): Promise<TombstonedEvent> => ({
        eventId: 'e1', slug, seriesSlug: null, originalStart: null, attendees: 3, chatRoom: null, blueskyUri: null, rsvpRecords: 0,
        deleted: true, cancelsLeft: others,
      }),
      cancelWorkflows: async (ids) => { cancelled.push(ids); return ids; },
    }, async (client, taskQueue) => {
      const slug = `party-${randomUUID()}`;
      const result = await client.workflow.execute('deleteEventWorkflow', { workflowId: `delete-event:${slug}`, taskQueue, args: [{ eventSlug: slug }] });
      expect(result).toMatchObject({ step: 'done', attendeesTotal: 3, attendeesRemoved: 3 });
      expect(cancelled).toEqual([[`waitlist:${slug}`, `chat-room:${slug}`, `bsky-publish:${slug}`]]);
    });
  });
});
