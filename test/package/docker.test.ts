import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSluice } from '../../src/server.js';

/**
 * The Dockerfile, compose.yaml and the load balancer's config cannot be built or run here (no image
 * registry): these tests hold them to the product instead — the start command, the health check
 * (run for real against a node), the cluster's services and the environment names the code reads.
 */
const ROOT = process.cwd();
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): Instruction[] {
  const joined = read('Dockerfile')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, keyword, args] = /^\s*(\S+)\s+(.*)$/.exec(line)!;
      return { keyword: keyword!.toUpperCase(), args: args!.trim() };
    });
}

const instructions = dockerfile();
const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const stages = () => {
  const result: Instruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
};

/** The exec-form arguments of the HEALTHCHECK (after its options). */
function healthcheckCommand(): string[] {
  const [healthcheck] = all('HEALTHCHECK');
  const exec = /\bCMD\s+(\[.*\])\s*$/.exec(healthcheck ?? '');
  expect(exec, 'HEALTHCHECK … CMD ["…"]').not.toBeNull();
  return JSON.parse(exec![1]!) as string[];
}

/** Every SLUICE_* environment variable the code reads. */
function environmentNamesInCode(dir = join(ROOT, 'src')): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) environmentNamesInCode(path).forEach((name) => names.add(name));
    else if (path.endsWith('.ts')) for (const [name] of readFileSync(path, 'utf8').matchAll(/\bSLUICE_(?!ERR_)[A-Z_]+/g)) names.add(name);
  }
  return names;
}

describe('Dockerfile', () => {
  it('builds in a node:20-slim stage with a compiler, and runs in a slim one as a non-root user', () => {
    const [build, runtime] = stages();
    expect(stages()).toHaveLength(2);
    expect(build![0]!.args).toMatch(/^node:20-slim AS build$/i);
    const buildRuns = build!.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    for (const tool of ['g++', 'make', 'python3', 'npm ci', 'npm run build', 'npm prune --omit=dev']) expect(buildRuns).toContain(tool);

    expect(runtime![0]!.args).toBe('node:20-slim');
    const user = runtime!.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)$/);
    expect(runtime!.filter((i) => i.keyword === 'COPY').every((i) => i.args.startsWith('--from=build '))).toBe(true);
    expect(all('VOLUME')).toEqual(['/data']);
    expect(all('EXPOSE')).toEqual(['7070']);
    expect(all('ENV').join(' ')).toMatch(/SLUICE_DATA_DIR=\/data/);
    expect(all('ENV').join(' ')).toMatch(/SLUICE_HOST=0\.0\.0\.0/);
  });

  it('starts the gateway the way npm start and the package bin do', () => {
    const cmd = JSON.parse(all('CMD').at(-1)!) as string[];
    const manifest = JSON.parse(read('package.json')) as { scripts: { start: string }; bin: { sluice: string } };
    expect(cmd.join(' ')).toBe(manifest.scripts.start);
    expect(cmd).toEqual(['node', manifest.bin.sluice, 'start']);
  });

  it('checks health with node (no curl in slim images): 0 while a node is ready, 1 once it stopped', async () => {
    const [program, ...args] = healthcheckCommand();
    expect(program).toBe('node');
    expect(args.join(' ')).toContain('/readyz');
    const node = await startSluice({ config: { log: { level: 'silent' } } });
    const port = new URL(node.url).port;
    // Not spawnSync: the node answering the check runs on this process's event loop.
    const check = () =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, args, { env: { ...process.env, SLUICE_PORT: port }, stdio: 'ignore', timeout: 10_000 });
        child.once('exit', (code) => resolve(code));
      });
    try {
      expect(await check()).toBe(0);
    } finally {
      await node.stop();
    }
    expect(await check()).toBe(1);
  });

  it('leaves tests, local data and build output out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'data', 'test', '.git']));
  });
});

describe('compose.yaml', () => {
  const compose = parse(read('compose.yaml')) as {
    services: Record<string, { image?: string; build?: string; environment?: Record<string, string>; healthcheck?: { test: string[] }; depends_on?: Record<string, { condition: string }>; volumes?: string[]; ports?: string[] }>;
  };
  const nodes = ['sluice-1', 'sluice-2', 'sluice-3'];

  it('runs PostgreSQL 16, Redis 7, three Sluice nodes and a load balancer', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['lb', 'postgres', 'redis', ...nodes].sort());
    expect(compose.services.postgres!.image).toBe('postgres:16');
    expect(compose.services.redis!.image).toBe('redis:7');
    for (const node of nodes) expect(compose.services[node]!.build).toBe('.');
  });

  it('gives every node the same database, limits mode, admin key and vault key, and only names the code reads', () => {
    const known = environmentNamesInCode();
    const environments = nodes.map((node) => compose.services[node]!.environment!);
    for (const environment of environments) {
      expect(environment.SLUICE_DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
      // The limits are the cluster's, in Redis (a second node without them would be refused).
      expect(environment.SLUICE_REDIS_URL).toBe('redis://redis:6379');
      expect(environment.SLUICE_LIMITS_PER_NODE).toBeUndefined();
      expect(environment.SLUICE_ADMIN_KEY).toMatch(/^\$\{SLUICE_ADMIN_KEY:\?/);
      // On PostgreSQL the vault key is required too, the same on every node.
      expect(environment.SLUICE_SECRET_KEY).toMatch(/^\$\{SLUICE_SECRET_KEY:\?/);
      expect(Object.keys(environment).filter((name) => !known.has(name))).toEqual([]);
    }
    expect(new Set(environments.map((environment) => JSON.stringify(environment))).size).toBe(1);
  });

  it('starts nodes after healthy storage, and the load balancer after healthy nodes', () => {
    expect(compose.services.postgres!.healthcheck!.test).toContain('pg_isready');
    expect(compose.services.redis!.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
    for (const node of nodes) {
      expect(compose.services[node]!.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    }
    expect(compose.services.lb!.depends_on).toEqual(Object.fromEntries(nodes.map((node) => [node, { condition: 'service_healthy' }])));
    expect(compose.services.lb!.ports).toEqual(['7070:7070']);
  });

  it('balances over the three nodes, each checked on /readyz', () => {
    const mount = compose.services.lb!.volumes!.find((volume) => volume.startsWith('./deploy/'))!;
    const config = read(mount.split(':')[0]!);
    expect(config).toMatch(/option httpchk GET \/readyz/);
    for (const node of nodes) expect(config).toMatch(new RegExp(`^\\s*server ${node} ${node}:7070 check`, 'm'));
  });
});
