import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { SessionRevokedError } from '../bluesky/sessions.ts';
import { RecordChangedError } from '../bluesky/records.ts';
import { DomainError, isTransient } from '../domain/errors.ts';
import { isRejection, MatrixError } from '../matrix/client.ts';
import { FAILURE } from '../temporal/failures.ts';

/**
 * The one place where errors of the domain and of the outside clients become Temporal failures,
 * typed by the names in FAILURE (or the domain code), so retry policies and the API read one
 * vocabulary. Anything else passes unchanged and is retried by the activity's policy.
 */
export function asActivityFailure(err: unknown): unknown {
  if (err instanceof DomainError) {
    // The event is being deleted, a draft takes no RSVPs: a retry will not change that. A busy
    // or unreachable database will pass, so it is retried.
    if (isTransient(err.code)) return err;
    return ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: err.details ? [err.details] : [] });
  }
  if (err instanceof SessionRevokedError) return ApplicationFailure.create({ type: FAILURE.blueskySessionRevoked, message: err.message, nonRetryable: true });
  if (err instanceof RecordChangedError) return ApplicationFailure.create({ type: FAILURE.blueskyRecordChanged, message: err.message });
  if (err instanceof MatrixError && err.retryAfterMs !== undefined) {
    // After exactly as long as the homeserver asks.
    return ApplicationFailure.create({ type: FAILURE.matrixRateLimited, message: err.message, nextRetryDelay: err.retryAfterMs });
  }
  if (isRejection(err)) {
    return ApplicationFailure.create({ type: FAILURE.matrixRejected, message: (err as Error).message, nonRetryable: true });
  }
  return err;
}

export const failuresAtTheBoundary: ActivityInboundCallsInterceptor = {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      throw asActivityFailure(err);
    }
  },
};
