import type { ActivityInterceptors } from '@temporalio/worker';
import { requestContext } from '../logger.ts';
import { requestIdOf } from '../temporal/request-id.ts';

/**
 * An activity runs in the request context its workflow handed it (header): its own log lines,
 * the SDK's lines about it, and any workflow it starts or signals carry the request id.
 */
export const activityRequestId = (): ActivityInterceptors => ({
  inbound: {
    execute(input, next) {
      const requestId = requestIdOf(input.headers);
      return requestId ? requestContext.run({ requestId }, () => next(input)) : next(input);
    },
  },
  outbound: {
    getLogAttributes(input, next) {
      const requestId = requestContext.getStore()?.requestId;
      return next(requestId ? { ...input, requestId } : input);
    },
  },
});
