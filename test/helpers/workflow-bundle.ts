/**
 * The workflow bundles `npm test` builds once for the run (scripts/test.sh, as `npm run bundle`
 * does for production): every worker of the run loads them instead of bundling (~4 s each).
 */
export function workflowBundlePath(): string {
  const path = process.env.WORKFLOW_BUNDLE_PATH;
  if (!path) throw new Error('WORKFLOW_BUNDLE_PATH is unset: run the tests through `npm test` (scripts/test.sh builds the bundle)');
  return path;
}
