import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { DomainError } from '../../src/domain/errors.ts';
import { failuresAtTheBoundary } from '../../src/worker/activity-failures.ts';

const run = (thrown: unknown) => failuresAtTheBoundary.execute!({} as ActivityExecuteInput, async () => { throw thrown; });

describe('domain errors inside activities', () => {
  it('fail the activity for good, typed by their code', async () => {
    const err = await run(new DomainError('event_deleting', 'event x is being deleted', { event: 'x' })).catch((e) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'event_deleting', nonRetryable: true, message: 'event x is being deleted', details: [{ event: 'x' }] });
  });

  it('a busy database (503) and any other error stay retryable, unchanged', async () => {
    const busy = new DomainError('database_busy', 'busy');
    await expect(run(busy)).rejects.toBe(busy);
    const plain = new Error('connection reset');
    await expect(run(plain)).rejects.toBe(plain);
    expect(await failuresAtTheBoundary.execute!({} as ActivityExecuteInput, async () => 'ok')).toBe('ok');
  });
});
