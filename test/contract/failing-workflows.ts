// After the contract run: no input the API accepted may be failing inside a workflow. Lists the
// workflows of a task queue that failed, or whose activities keep failing (attempt >= 3), and
// exits 1 if there is any. `node test/contract/failing-workflows.ts <task queue>`
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../src/config.ts';

const taskQueue = process.argv[2];
const config = loadConfig();
const client = new Client({ connection: await Connection.connect(config.TEMPORAL_CONNECTION), namespace: config.TEMPORAL_NAMESPACE });
const problems: string[] = [];
for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
  if (wf.status.name === 'FAILED' || wf.status.name === 'TIMED_OUT') problems.push(`${wf.workflowId}: ${wf.status.name}`);
  if (wf.status.name !== 'RUNNING') continue;
  const d = await client.workflow.getHandle(wf.workflowId).describe();
  for (const a of d.raw.pendingActivities ?? []) {
    if ((a.attempt ?? 0) >= 3) problems.push(`${wf.workflowId}: ${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message}`);
  }
}
await client.connection.close();
console.log(problems.length ? `failing workflows of ${taskQueue}:\n  ${problems.join('\n  ')}` : `no failing workflow on ${taskQueue}`);
process.exit(problems.length ? 1 : 0);
