import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { RecordChangedError } from '../../src/bluesky/records.ts';
import { SessionRevokedError } from '../../src/bluesky/sessions.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { MatrixError } from '../../src/matrix/client.ts';
import { FAILURE } from '../../src/temporal/failures.ts';
import { failuresAtTheBoundary } from '../../src/worker/activity-failures.ts';

const run = (thrown: unknown) => failuresAtTheBoundary.execute!({} as ActivityExecuteInput, async () => { throw thrown; }).catch((e: unknown) => e);

describe('errors at the activity boundary', () => {
  it('a domain error fails the activity for good, typed by its code', async () => {
    const err = await run(new DomainError('event_deleting', 'event x is being deleted', { event: 'x' }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'event_deleting', nonRetryable: true, message: 'event x is being deleted', details: [{ event: 'x' }] });
  });

  it('a transient domain error (a busy database) and any other error stay retryable, unchanged', async () => {
    const busy = new DomainError('database_busy', 'busy');
    expect(await run(busy)).toBe(busy);
    const plain = new Error('connection reset');
    expect(await run(plain)).toBe(plain);
    expect(await failuresAtTheBoundary.execute!({} as ActivityExecuteInput, async () => 'ok')).toBe('ok');
  });

  it('the clients\' errors become the failure types retry policies and the API name', async () => {
    expect(await run(new SessionRevokedError('did:plc:x', 'revoked'))).toMatchObject({ type: FAILURE.blueskySessionRevoked, nonRetryable: true });
    expect(await run(new RecordChangedError('a/b'))).toMatchObject({ type: FAILURE.blueskyRecordChanged, nonRetryable: false });
    expect(await run(new MatrixError(403, 'M_FORBIDDEN', 'no'))).toMatchObject({ type: FAILURE.matrixRejected, nonRetryable: true });
    const limited = await run(new MatrixError(429, 'M_LIMIT_EXCEEDED', 'slow down', 2500)) as ApplicationFailure;
    expect(limited).toMatchObject({ type: FAILURE.matrixRateLimited, nonRetryable: false });
    expect(limited.nextRetryDelay).toBe(2500);
    const down = new MatrixError(502, 'M_UNKNOWN', 'bad gateway');
    expect(await run(down)).toBe(down); // the homeserver may be back on the next attempt
  });
});
