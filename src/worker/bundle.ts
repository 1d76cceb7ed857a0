// `npm run bundle`: prebuilds the workflow bundles for production workers (WORKFLOW_BUNDLE_PATH):
// one without tracing and one with it (`.traced.js`, used when tracing is on). Bundling also
// fails early on imports the workflow sandbox forbids.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { bundleFile, workflowInterceptorModules, workflowsPath } from './worker.ts';

const path = process.argv[2] ?? 'dist/workflow-bundle.js';
await mkdir(dirname(resolve(path)), { recursive: true });
for (const tracing of [false, true]) {
  const out = bundleFile(path, tracing);
  const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: workflowInterceptorModules(tracing) });
  await writeFile(out, code);
  console.log(`wrote ${out} (${(code.length / 1024).toFixed(0)} KiB)`); // a build step's lines, not a service log
}
