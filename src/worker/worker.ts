import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import { tracingOn, workflowSpanTarget } from '../tracing.ts';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Config } from '../config.ts';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { failuresAtTheBoundary } from './activity-failures.ts';
import { activityRequestId } from './activity-request-id.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/**
 * Workflow interceptors, bundled with the workflows (`bundleWorkflowCode({ workflowInterceptorModules })`):
 * the request id, and, with tracing on, OpenTelemetry's. Those only when tracing is on: they cost
 * every new workflow about a third of its first task (bench/workflow-latency.ts, Temporal's
 * temporal_workflow_task_execution_latency: 23 ms against 16.6 ms).
 */
export function workflowInterceptorModules(tracing: boolean): string[] {
  return [
    fileURLToPath(new URL('../workflows/request-id.ts', import.meta.url)),
    ...(tracing ? [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')] : []),
  ];
}

/** The prebuilt bundle for this process: `npm run bundle` writes one without tracing and one with (`.traced.js`). */
export const bundleFile = (path: string, tracing: boolean) => (tracing ? path.replace(/(\.js)?$/, '.traced.js') : path);

/**
 * The meetflow worker: every workflow and activity on one task queue. Production loads the
 * bundle built by `npm run bundle` (WORKFLOW_BUNDLE_PATH); dev and tests bundle at start.
 */
export async function createWorker(
  connection: NativeConnection,
  deps: ActivityDeps & { config: Config },
  overrides: { taskQueue?: string; shutdownGraceTime?: string } = {},
): Promise<Worker> {
  const { config } = deps;
  const spans = workflowSpanTarget();
  const tracing = tracingOn();
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: overrides.taskQueue ?? config.TEMPORAL_TASK_QUEUE,
    ...(config.WORKFLOW_BUNDLE_PATH
      ? { workflowBundle: { codePath: bundleFile(config.WORKFLOW_BUNDLE_PATH, tracing) } }
      : { workflowsPath }),
    activities: createActivities(deps),
    // Workflows record their spans through this sink (tracing off: it drops them).
    sinks: { exporter: makeWorkflowExporter(spans.exporter, spans.resource) },
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    // A long activity (a page of retention's rooms, a deletion's batches) learns of a cancel from a
    // heartbeat's answer: sent at most this far apart (default: 80% of its heartbeat timeout, 48 s
    // for a page, which went on closing every room of the page after its run was cancelled).
    maxHeartbeatThrottleInterval: '2 seconds',
    interceptors: {
      activity: [
        () => ({ inbound: failuresAtTheBoundary }), activityRequestId,
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
      ],
      // A prebuilt bundle carries them already (npm run bundle).
      ...(config.WORKFLOW_BUNDLE_PATH ? {} : { workflowModules: workflowInterceptorModules(tracing) }),
    },
    // Let running activities finish on SIGTERM instead of cancelling them at once (default 0).
    shutdownGraceTime: (overrides.shutdownGraceTime ?? config.WORKER_SHUTDOWN_GRACE) as '30s',
  });
}
