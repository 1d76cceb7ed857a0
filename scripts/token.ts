// `npm run token -- --sub <user id> [--role admin|service] [--ttl seconds]`: prints a JWT for operators.
import { parseArgs } from 'node:util';
import { mintToken } from '../src/api/auth.ts';
import { loadConfig } from '../src/config.ts';

const { values } = parseArgs({ options: { sub: { type: 'string' }, role: { type: 'string' }, ttl: { type: 'string', default: '3600' } } });
if (!values.sub || (values.role && values.role !== 'admin' && values.role !== 'service')) {
  console.error('usage: npm run token -- --sub <user id> [--role admin|service] [--ttl seconds]');
  process.exit(2);
}
const role = values.role as 'admin' | 'service' | undefined;
console.log(await mintToken(loadConfig().AUTH_JWT_SECRET, { sub: values.sub, ...(role ? { role } : {}) }, Number(values.ttl)));
