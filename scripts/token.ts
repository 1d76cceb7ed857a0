// `npm run token -- --sub <user id> [--role admin|service] [--ttl seconds]`: prints a JWT for operators.
import { parseArgs } from 'node:util';
import { mintToken } from '../src/api/auth.ts';
import { loadConfig } from '../src/config.ts';

const usage = 'usage: npm run token -- --sub <user id> [--role admin|service] [--ttl seconds (1..AUTH_TOKEN_MAX_TTL_SECONDS, default 3600)]';
const { values } = parseArgs({ options: { sub: { type: 'string' }, role: { type: 'string' }, ttl: { type: 'string', default: '3600' } } });
const ttl = Number(values.ttl);
if (!values.sub || (values.role && values.role !== 'admin' && values.role !== 'service') || !/^\d+$/.test(values.ttl ?? '')) {
  console.error(usage);
  process.exit(2);
}
const role = values.role as 'admin' | 'service' | undefined;
try {
  console.log(await mintToken(loadConfig(), { sub: values.sub, ...(role ? { role } : {}) }, ttl));
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
