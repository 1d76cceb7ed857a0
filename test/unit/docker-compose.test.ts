import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';

// No container engine runs here: what can be checked without one is checked. The file as compose
// reads it, each app service's environment against loadConfig, and each command of the meetflow
// image against what the Dockerfile copies in (minus .dockerignore).

/** `docker compose` (v2 plugin) or Debian's `docker-compose`; null when there is no docker client. */
function compose(): string[] | null {
  if (spawnSync('docker', ['--version']).status !== 0) return null;
  if (spawnSync('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version']).status === 0) return ['docker-compose'];
  throw new Error('a docker client is present but no compose: scripts/setup.sh should have installed docker-compose');
}
const cmd = compose();

interface Service {
  image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; restart?: string;
  healthcheck?: { test: string[] }; depends_on?: Record<string, { condition: string }>; volumes?: unknown[];
}

describe.skipIf(!cmd)('docker-compose.yml', () => {
  const secrets = {
    AUTH_JWT_SECRET: 'compose-test-secret-0123', SESSION_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}`, POSTGRES_PASSWORD: 'pw',
  };
  const run = (file: string, env: NodeJS.ProcessEnv, ...args: string[]) =>
    spawnSync(cmd![0], [...cmd!.slice(1), '-f', file, ...args], { encoding: 'utf8', env });
  const resolved = () => {
    const result = run('docker-compose.yml', { ...process.env, ...secrets }, 'config');
    expect(result.status, result.stderr).toBe(0);
    return parse(result.stdout).services as Record<string, Service>;
  };
  /** Long-running services (not the one-shot jobs). */
  const longRunning = (services: Record<string, Service>) => Object.entries(services).filter(([, s]) => s.restart !== 'no');

  it('has the whole stack, every image pinned to a version', () => {
    const services = resolved();
    expect(Object.keys(services).sort()).toEqual(['api', 'firehose', 'matrix-bot', 'migrate', 'postgres', 'redis', 'synapse',
      'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
    for (const [name, s] of Object.entries(services)) {
      if (s.image) expect(s.image, name).toMatch(/:v?\d+\.\d+(\.\d+)?(-[a-z]+)?$/); // not latest, not a major alone
    }
    expect(services.temporal.image).toMatch(/^temporalio\/server:/); // not the deprecated auto-setup
  });

  it('gives Temporal the dynamic config the dev server runs with, mounted where it is read', () => {
    const temporal = resolved().temporal;
    const path = temporal.environment?.DYNAMIC_CONFIG_FILE_PATH ?? '';
    const mount = (temporal.volumes ?? []).map(String).find((v) => path.startsWith(`${v.split(':')[1]}/`));
    expect(mount, 'the file is mounted').toBeDefined();
    const file = join(mount!.split(':')[0], path.slice(mount!.split(':')[1].length));
    expect(parse(readFileSync(file, 'utf8'))).toMatchObject({ 'history.transferProcessorMaxPollRPS': [{ value: 1000 }] });
  });

  it('gives every long-running service a restart policy and a healthcheck', () => {
    for (const [name, s] of longRunning(resolved())) {
      expect(s.restart, name).toBe('unless-stopped');
      if (name !== 'temporal-ui') expect(s.healthcheck?.test.length, `${name} has no healthcheck`).toBeGreaterThan(0);
    }
  });

  it('hands each app service an environment that loadConfig accepts (the image runs with NODE_ENV=production)', () => {
    const services = resolved();
    const dockerfileEnv = Object.fromEntries([...readFileSync('Dockerfile', 'utf8').matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    const token = join(mkdtempSync(join(tmpdir(), 'compose-')), 'token');
    writeFileSync(token, 'syt_written_by_matrix_bot');
    const apps = Object.entries(services).filter(([, s]) => s.build && s.environment);
    expect(apps.map(([n]) => n).sort()).toEqual(['api', 'firehose', 'migrate', 'worker']);
    for (const [name, s] of apps) {
      // The token file the matrix-bot job writes into the shared volume.
      expect(s.environment!.MATRIX_ACCESS_TOKEN_FILE, name).toBe('/run/meetflow/matrix/token');
      const env = { ...dockerfileEnv, ...s.environment, MATRIX_ACCESS_TOKEN_FILE: token };
      const config = loadConfig(env);
      expect(config.CHAT_ENABLED, name).toBe(true);
      expect(config.MATRIX_ACCESS_TOKEN).toBe('syt_written_by_matrix_bot');
      expect(config.ALLOW_PRIVATE_NETWORK_FETCH).toBe(false);
      expect(s.depends_on?.['matrix-bot'] ?? services.migrate.depends_on?.['matrix-bot'], `${name} starts after the bot is registered`).toBeTruthy();
    }
    // Without the file (the job has not run) a service says so instead of starting without chat.
    expect(() => loadConfig({ ...dockerfileEnv, ...services.api.environment })).toThrow(/MATRIX_ACCESS_TOKEN_FILE .* cannot be read/);
  });

  it('runs only commands the meetflow image contains', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const [name, s] of Object.entries(resolved()).filter(([, x]) => x.build)) {
      const [bin, file] = s.command!;
      expect(bin, name).toBe('node');
      expect(existsSync(file), `${name}: ${file} exists`).toBe(true);
      expect(copied.some((c) => file === c || file.startsWith(`${c}/`)), `${name}: ${file} is copied into the image`).toBe(true);
      expect(ignored.some((i) => file.startsWith(i)), `${name}: ${file} is not in .dockerignore`).toBe(false);
    }
    for (const dir of ['node_modules', '.tools', '.data', '.git']) expect(ignored).toContain(dir); // kept out of the build context
  });

  it('ships no default secret: without AUTH_JWT_SECRET, SESSION_ENCRYPTION_KEYS or POSTGRES_PASSWORD it refuses', () => {
    for (const missing of Object.keys(secrets)) {
      const env = { ...process.env, ...secrets };
      delete env[missing as keyof typeof secrets];
      const result = run('docker-compose.yml', env, 'config', '-q');
      expect(result.status, missing).not.toBe(0);
      expect(result.stderr).toContain(missing);
    }
  });

  it('a broken file is refused (the check can fail)', () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'compose-')), 'docker-compose.yml');
    writeFileSync(broken, readFileSync('docker-compose.yml', 'utf8').replace('restart: "no"', 'restart: 42'));
    expect(run(broken, { ...process.env, ...secrets }, 'config', '-q').status).not.toBe(0);
  });
});
