import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { SIGNALS } from '../../src/temporal/contracts.ts';
import type { Activities } from '../../src/activities/index.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';

// Workflow logic on the time-skipping test server, with stubbed activities.
const suite = timeSkippingSuite();

const chatSyncs: string[] = [];
const run = (activities: Partial<Activities>, body: (taskQueue: string) => Promise<void>) =>
  suite.withWorker({ requestEventChatSync: async (slug: string) => { chatSyncs.push(slug); return true; }, ...activities }, body);

describe('waitlistWorkflow', () => {
  it('runs one promotion round per burst of signals and completes after the idle timeout', async () => {
    const calls: string[] = [];
    let next = [['u1', 'u2'], ['u3']];
    await run({
      promoteWaitlist: async (slug) => { calls.push(slug); return { eventGone: false, promotedUserIds: next.shift() ?? [] }; },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('waitlistWorkflow', {
        workflowId: `waitlist:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'party', idleTimeout: '10 minutes' }],
        signal: SIGNALS.seatsChanged,
      });
      await suite.env.sleep('1 minute');
      await handle.signal(SIGNALS.seatsChanged);
      // Time skips past the idle timeout once the workflow only waits.
      expect(await handle.result()).toEqual({ promoted: 3, rounds: 2 });
    });
    expect(calls).toEqual(['party', 'party']);
    expect(chatSyncs).toEqual(['party', 'party']); // promoted people join the chat room
  });

  it('stops when the event is gone', async () => {
    await run({
      promoteWaitlist: async () => ({ eventGone: true, promotedUserIds: [] }),
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('waitlistWorkflow', {
        workflowId: `waitlist:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'gone' }], signal: SIGNALS.seatsChanged,
      });
      expect(await handle.result()).toEqual({ promoted: 0, rounds: 1 });
    });
  });

  it('retries a failing promotion until it succeeds (activity failure)', async () => {
    let attempts = 0;
    await run({
      promoteWaitlist: async () => {
        if (++attempts < 3) throw new Error('database restarting');
        return { eventGone: false, promotedUserIds: ['u1'] };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('waitlistWorkflow', {
        workflowId: `waitlist:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'flaky', idleTimeout: '1 minute' }],
        signal: SIGNALS.seatsChanged,
      });
      expect(await handle.result()).toEqual({ promoted: 1, rounds: 1 });
    });
    expect(attempts).toBe(3);
  });

  it('fails with the typed error when the activity fails permanently', async () => {
    const { ApplicationFailure } = await import('@temporalio/common');
    await run({
      promoteWaitlist: async () => { throw ApplicationFailure.create({ type: 'SchemaMismatch', message: 'no such column', nonRetryable: true }); },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('waitlistWorkflow', {
        workflowId: `waitlist:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'broken' }], signal: SIGNALS.seatsChanged,
      });
      const err = await handle.result().catch((e) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      // The promotion is a local activity: its failure is the workflow's cause as is (an ordinary
      // activity's comes wrapped in an ActivityFailure); the operation reader finds it either way.
      expect(err.cause).toBeInstanceOf(ApplicationFailure);
      expect(err.cause.type).toBe('SchemaMismatch');
    });
  });
});
