import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/loader.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function withYaml(text: string) {
  dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  writeFileSync(join(dir, 'sluice.yaml'), text);
  return dir;
}

describe('loadConfig', () => {
  it('with no file: defaults, a pull queue and source "default", and the outbound push queue', () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
    const loaded = loadConfig({}, {}, dir);
    expect(loaded.config.server).toMatchObject({ host: '127.0.0.1', port: 7070, maxBodyBytes: 1_048_576 });
    expect(loaded.config.storage.durability).toBe('fsync');
    expect(loaded.config.queues.default?.mode).toBe('pull');
    expect(loaded.config.sources.default?.queue).toBe('default');
    expect(loaded.config.queues.outbound?.mode).toBe('push');
    expect(loaded.sqlitePath).toBe(join(dir, 'data', 'sluice.db'));
  });

  it('rejects an unknown key with its path named', () => {
    withYaml('queues:\n  orders:\n    mode: pull\n    colour: blue\n');
    expect(() => loadConfig({}, {}, dir)).toThrow(/queues\.orders.*colour/s);
  });

  it('rejects a wrong type with its path named', () => {
    withYaml('server:\n  port: "seven"\n');
    expect(() => loadConfig({}, {}, dir)).toThrow(/server\.port/);
    withYaml('limits:\n  domains:\n    api.example.com: { concurrency: -1 }\n');
    expect(() => loadConfig({}, {}, dir)).toThrow(/limits\.domains\.api\.example\.com\.concurrency/);
  });

  it('interpolates ${VAR} and names a missing variable', () => {
    withYaml('queues:\n  q: { mode: pull }\nsources:\n  s: { queue: q, verify: { type: github, secret: "${GH_SECRET}" } }\n');
    const loaded = loadConfig({}, { GH_SECRET: 'abc' }, dir);
    expect(loaded.config.sources.s?.verify).toMatchObject({ type: 'github', secret: 'abc' });
    expect(() => loadConfig({}, {}, dir)).toThrow(/sources\.s\.verify\.secret: environment variable GH_SECRET is not set/);
  });

  it('lets flags win over the environment, and the environment over the file', () => {
    withYaml('server: { port: 8000 }\n');
    expect(loadConfig({}, {}, dir).config.server.port).toBe(8000);
    expect(loadConfig({}, { SLUICE_PORT: '8001' }, dir).config.server.port).toBe(8001);
    expect(loadConfig({ port: 8002 }, { SLUICE_PORT: '8001' }, dir).config.server.port).toBe(8002);
    expect(() => loadConfig({}, { SLUICE_PORT: 'x' }, dir)).toThrow(ConfigError);
  });

  it('fails clearly for a missing --config file or broken YAML', () => {
    withYaml('server: [unclosed\n');
    expect(() => loadConfig({}, {}, dir)).toThrow(/cannot read/);
    expect(() => loadConfig({ configPath: 'nope.yaml' }, {}, dir)).toThrow(/not found/);
  });

  it('takes PostgreSQL from storage.postgres or SLUICE_DATABASE_URL (the environment wins) and refuses what is not a postgres URL', () => {
    withYaml('storage: { postgres: "postgres://localhost/sluice", postgresSchema: edge_1, postgresPoolSize: 4 }\n');
    const fromFile = loadConfig({}, {}, dir).config.storage;
    expect(fromFile).toMatchObject({ postgres: 'postgres://localhost/sluice', postgresSchema: 'edge_1', postgresPoolSize: 4 });
    expect(loadConfig({}, { SLUICE_DATABASE_URL: 'postgresql://db/other' }, dir).config.storage.postgres).toBe('postgresql://db/other');
    expect(() => loadConfig({}, { SLUICE_DATABASE_URL: 'mysql://x' }, dir)).toThrow(/SLUICE_DATABASE_URL: not a postgres/);
    withYaml('storage: { postgres: "http://x", postgresSchema: "a;drop" }\n');
    expect(() => loadConfig({}, {}, dir)).toThrow(/storage\.postgresSchema/);
    withYaml('storage: { postgres: "http://x" }\n');
    expect(() => loadConfig({}, {}, dir)).toThrow(/storage\.postgres: not a postgres/);
    withYaml('');
    expect(loadConfig({}, {}, dir).config.storage.postgres).toBeUndefined();
  });

  it('takes limits.perNode from SLUICE_LIMITS_PER_NODE, and refuses a value that is not a flag', () => {
    withYaml('');
    expect(loadConfig({}, {}, dir).config.limits.perNode).toBe(false);
    expect(loadConfig({}, { SLUICE_LIMITS_PER_NODE: 'true' }, dir).config.limits.perNode).toBe(true);
    expect(() => loadConfig({}, { SLUICE_LIMITS_PER_NODE: 'yes' }, dir)).toThrow(/SLUICE_LIMITS_PER_NODE: expected true or false/);
  });

  it('takes Redis from SLUICE_REDIS_URL or limits.redis, only beside PostgreSQL and never with limits.perNode', () => {
    withYaml('');
    expect(() => loadConfig({}, { SLUICE_REDIS_URL: 'redis://x' }, dir)).toThrow(/SLUICE_REDIS_URL: limits shared in Redis need the nodes to share PostgreSQL/);
    const pg = { SLUICE_DATABASE_URL: 'postgres://db/x' };
    expect(loadConfig({}, { ...pg, SLUICE_REDIS_URL: 'redis://cache:6379/2' }, dir).config.limits.redis).toBe('redis://cache:6379/2');
    expect(() => loadConfig({}, { ...pg, SLUICE_REDIS_URL: 'http://cache' }, dir)).toThrow(/SLUICE_REDIS_URL: not a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => loadConfig({}, { ...pg, SLUICE_REDIS_URL: 'redis://cache', SLUICE_LIMITS_PER_NODE: 'true' }, dir)).toThrow(/exclude each other/);
    withYaml('limits: { redis: "rediss://cache:6380" }');
    expect(loadConfig({}, pg, dir).config.limits.redis).toBe('rediss://cache:6380');
    expect(() => loadConfig({}, {}, dir)).toThrow(/limits\.redis: limits shared in Redis need/);
  });
});
