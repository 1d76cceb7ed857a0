import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MaterializeResult } from '../../src/activities/series.ts';
import { SIGNALS } from '../../src/temporal/contracts.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';

const suite = timeSkippingSuite();

const active = (over: Partial<Extract<MaterializeResult, { state: 'active' }>> = {}): MaterializeResult => ({
  state: 'active', created: 0, updated: 0, cancelled: 0, deleted: 0, materializedUntil: '2027-01-01T00:00:00.000Z', ended: false, ...over,
});

describe('seriesWorkflow', () => {
  it('retries a failing materialization, re-materializes on a change, and ends with the rule', async () => {
    let calls = 0;
    const nows: number[] = [];
    await suite.withWorker({
      materializeSeries: async (input) => {
        calls++;
        nows.push(Date.parse(input.now));
        if (calls === 1) throw new Error('database restarting'); // retried by Temporal
        if (calls === 2) return active({ created: 12 });
        return active({ updated: 3, ended: true });
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('seriesWorkflow', {
        workflowId: `series:${randomUUID()}`, taskQueue, args: [{ seriesSlug: 's', horizonDays: 90, maxOccurrences: 200 }],
      });
      await suite.env.sleep('1 hour');
      await handle.signal(SIGNALS.seriesChanged);
      expect(await handle.result()).toMatchObject({ step: 'done', state: 'ended', runs: 2, created: 12, updated: 3 });
    });
    expect(calls).toBe(3);
    expect(nows[2] - nows[1]).toBeGreaterThanOrEqual(3_600_000); // `now` is the workflow's clock
  });

  it('tops up once a day until the series is gone', async () => {
    let calls = 0;
    await suite.withWorker({
      materializeSeries: async () => (++calls < 4 ? active({ created: 1 }) : { state: 'gone' }),
    }, async (taskQueue) => {
      const result = await suite.env.client.workflow.execute('seriesWorkflow', {
        workflowId: `series:${randomUUID()}`, taskQueue, args: [{ seriesSlug: 's', horizonDays: 90, maxOccurrences: 200 }],
      });
      expect(result).toMatchObject({ state: 'gone', runs: 4, created: 3 });
    });
  });
});
