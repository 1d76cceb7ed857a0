import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { DomainError } from '../domain/errors.ts';

/**
 * A domain error raised inside an activity (the event is being deleted, a draft takes no RSVPs)
 * will not change on a retry: it fails the activity at once, as a non-retryable failure typed by
 * its code. A 503 (a busy or unreachable database) passes, so Temporal retries it.
 */
export const domainErrorsAreFinal: ActivityInboundCallsInterceptor = {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      if (!(err instanceof DomainError) || err.status === 503) throw err;
      throw ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: err.details ? [err.details] : [] });
    }
  },
};
