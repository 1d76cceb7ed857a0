import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { operationReader } from '../../src/api/operation-reader.ts';
import { loadConfig } from '../../src/config.ts';
import { log } from '../../src/logger.ts';

/** A Temporal client that starts runs, then answers nothing more (every later call out of time). */
function startsThenTimesOut(started: string[]): Client {
  const deadline = () => Promise.reject(Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), { code: 4 }));
  return {
    workflow: {
      start: async (_type: string, options: { workflowId: string }) => { started.push(options.workflowId); return { workflowId: options.workflowId }; },
      getHandle: () => ({ describe: deadline, query: deadline, result: deadline }),
    },
    workflowService: { getWorkflowExecutionHistory: deadline },
    connection: { withAbortSignal: (_s: AbortSignal, fn: () => unknown) => fn(), withDeadline: (_d: number, fn: () => unknown) => fn() },
  } as unknown as Client;
}

describe('starting an operation', () => {
  it('answers a run it started as running when Temporal then stops answering (not 503: a retry might find its entity gone)', async () => {
    const started: string[] = [];
    const reader = operationReader({ ds: {} as DataSource, temporal: startsThenTimesOut(started), config: loadConfig({}) });
    const level = log.level;
    log.level = 'silent'; // the warning this case logs is expected
    try {
      const op = await reader.start('delete-event', 'picnic', { eventSlug: 'picnic' }, 'someone');
      expect(started).toEqual(['delete-event:picnic']);
      expect(op).toMatchObject({ id: 'delete-event:picnic', type: 'delete-event', status: 'running', entity: { kind: 'event', slug: 'picnic' }, result: null, error: null });
    } finally {
      log.level = level;
    }
  });
});
