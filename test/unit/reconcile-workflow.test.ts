import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ReconcileReport } from '../../src/activities/reconcile.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';

const suite = timeSkippingSuite();
const report: ReconcileReport = { waitlists: 1, chatRooms: 0, publications: 0, seriesPublications: 0, materializers: 0, deletions: 0, examples: ['waitlist:e'] };

describe('reconcileWorkflow', () => {
  it('retries a failing pass and answers the report of the one that worked', async () => {
    const inputs: unknown[] = [];
    await suite.withWorker({
      reconcile: async (input) => {
        inputs.push(input);
        if (inputs.length === 1) throw new Error('database restarting');
        return report;
      },
    }, async (taskQueue) => {
      const result = await suite.env.client.workflow.execute('reconcileWorkflow', { workflowId: `reconcile:${randomUUID()}`, taskQueue, args: [{}] });
      expect(result).toEqual(report);
    });
    expect(inputs).toEqual([{ limit: 500, staleMinutes: 30 }, { limit: 500, staleMinutes: 30 }]);
  });

  it('gives up after five attempts: the next scheduled run is the retry', async () => {
    let calls = 0;
    await suite.withWorker({ reconcile: async () => { calls++; throw new Error('still down'); } }, async (taskQueue) => {
      await expect(suite.env.client.workflow.execute('reconcileWorkflow', { workflowId: `reconcile:${randomUUID()}`, taskQueue, args: [{}] }))
        .rejects.toThrow(/failed/i);
    });
    expect(calls).toBe(5);
  });
});
