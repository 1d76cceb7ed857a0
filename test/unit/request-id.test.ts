import { describe, expect, it } from 'vitest';
import type { ActivityExecuteInput, GetLogAttributesInput } from '@temporalio/worker';
import { requestContext } from '../../src/logger.ts';
import { requestIdOf, withRequestId } from '../../src/temporal/request-id.ts';
import { activityRequestId } from '../../src/worker/activity-request-id.ts';

describe('the request id in an activity', () => {
  it('runs the activity in its request context and stamps the SDK\'s log lines with it', async () => {
    const { inbound, outbound } = activityRequestId();
    const headers = withRequestId({}, 'req-7');
    expect(requestIdOf(headers)).toBe('req-7');
    let seen: string | undefined;
    let attributes: Record<string, unknown> = {};
    await inbound!.execute!({ headers, args: [] } as unknown as ActivityExecuteInput, async () => {
      seen = requestContext.getStore()?.requestId;
      attributes = outbound!.getLogAttributes!({ activityId: '1' } as GetLogAttributesInput, (a) => a);
      return undefined;
    });
    expect(seen).toBe('req-7');
    expect(attributes).toEqual({ activityId: '1', requestId: 'req-7' });
    // Without one, nothing is invented.
    await inbound!.execute!({ headers: {}, args: [] } as unknown as ActivityExecuteInput, async () => { seen = requestContext.getStore()?.requestId; });
    expect(seen).toBeUndefined();
    expect(withRequestId({}, undefined)).toEqual({});
  });
});
