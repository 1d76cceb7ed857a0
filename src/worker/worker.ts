import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import { workflowSpanTarget } from '../tracing.ts';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Config } from '../config.ts';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { failuresAtTheBoundary } from './activity-failures.ts';
import { activityRequestId } from './activity-request-id.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Workflow interceptors, bundled with the workflows (`bundleWorkflowCode({ workflowInterceptorModules })`): the request id, and tracing. */
export const workflowInterceptorModules = [
  fileURLToPath(new URL('../workflows/request-id.ts', import.meta.url)),
  createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

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
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: overrides.taskQueue ?? config.TEMPORAL_TASK_QUEUE,
    ...(config.WORKFLOW_BUNDLE_PATH
      ? { workflowBundle: { codePath: config.WORKFLOW_BUNDLE_PATH } }
      : { workflowsPath }),
    activities: createActivities(deps),
    // Workflows record their spans through this sink (tracing off: it drops them).
    sinks: { exporter: makeWorkflowExporter(spans.exporter, spans.resource) },
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    interceptors: {
      activity: [
        () => ({ inbound: failuresAtTheBoundary }), activityRequestId,
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
      ],
      // A prebuilt bundle carries them already (npm run bundle).
      ...(config.WORKFLOW_BUNDLE_PATH ? {} : { workflowModules: workflowInterceptorModules }),
    },
    // Let running activities finish on SIGTERM instead of cancelling them at once (default 0).
    shutdownGraceTime: (overrides.shutdownGraceTime ?? config.WORKER_SHUTDOWN_GRACE) as '30s',
  });
}
