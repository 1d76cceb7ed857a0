import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** `docker compose` (v2 plugin) or Debian's `docker-compose`; null when there is no docker client. */
function compose(): string[] | null {
  if (spawnSync('docker', ['--version']).status !== 0) return null;
  if (spawnSync('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version']).status === 0) return ['docker-compose'];
  throw new Error('a docker client is present but no compose: scripts/setup.sh should have installed docker-compose');
}
const cmd = compose();

describe.skipIf(!cmd)('docker-compose.yml', () => {
  const secrets = { AUTH_JWT_SECRET: 'compose-test-secret-0123', SESSION_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}` };
  const run = (file: string, ...args: string[]) => spawnSync(cmd![0], [...cmd!.slice(1), '-f', file, ...args], { encoding: 'utf8', env: { ...process.env, ...secrets } });

  it('is accepted by compose and has the whole stack', () => {
    const result = run('docker-compose.yml', 'config', '--services');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(
      ['api', 'firehose', 'migrate', 'postgres', 'redis', 'synapse', 'temporal', 'temporal-setup', 'temporal-ui', 'worker']);
    const full = execFileSync(cmd![0], [...cmd!.slice(1), '-f', 'docker-compose.yml', 'config'], { encoding: 'utf8', env: { ...process.env, ...secrets } });
    expect(full).toContain('MeetflowOperation');
  });

  it('ships no default secret: without AUTH_JWT_SECRET and SESSION_ENCRYPTION_KEYS it refuses', () => {
    const { AUTH_JWT_SECRET: _a, SESSION_ENCRYPTION_KEYS: _s, ...env } = process.env;
    const result = spawnSync(cmd![0], [...cmd!.slice(1), '-f', 'docker-compose.yml', 'config', '-q'], { encoding: 'utf8', env });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/AUTH_JWT_SECRET|SESSION_ENCRYPTION_KEYS/);
  });

  it('a broken file is refused (the check can fail)', () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'compose-')), 'docker-compose.yml');
    writeFileSync(broken, readFileSync('docker-compose.yml', 'utf8').replace('depends_on: [temporal]', 'depends_on: 42'));
    expect(run(broken, 'config', '-q').status).not.toBe(0);
  });
});
