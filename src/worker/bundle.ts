// `npm run bundle`: prebuilds the workflow bundle for production workers (WORKFLOW_BUNDLE_PATH).
// Bundling also fails early on imports the workflow sandbox forbids.
import { mkdir, writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowInterceptorModules, workflowsPath } from './worker.ts';

const out = process.argv[2] ?? 'dist/workflow-bundle.js';
const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules });
await mkdir(new URL('.', `file://${process.cwd()}/${out}`), { recursive: true });
await writeFile(out, code);
console.log(`wrote ${out} (${(code.length / 1024).toFixed(0)} KiB)`); // a build step's one line, not a service log
