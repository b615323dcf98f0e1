import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { killHard, spawnSluice } from '../support/child.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run a client command of the built CLI against `url` with `key`; returns its parsed JSON output. */
async function sluice(url: string, key: string, ...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [MAIN, ...args], { env: { ...process.env, SLUICE_URL: url, SLUICE_KEY: key } });
  return JSON.parse(stdout);
}

describe('sluice start with no configuration at all', () => {
  it('runs on embedded SQLite in ./data, prints a generated admin key once, and accepts /in/default', async () => {
    const env = { SLUICE_ADMIN_KEY: '' };
    const first = await spawnSluice([], env, dir);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const key = /\s(sk_admin_\S+)/.exec(first.output())?.[1];
    expect(key).toBeDefined();
    const keyFile = join(dir, 'data', 'admin.key');
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(key);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const ingest = await fetch(`${first.url}/in/default`, { method: 'POST', body: '{}' });
    expect(ingest.status).toBe(202);
    await killHard(first.child);

    const second = await spawnSluice([], env, dir);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(second.output()).not.toContain('sk_admin_');
    const pulled = await sluice(second.url, key!, 'pull', 'default', '--ack');
    expect(pulled.messages).toHaveLength(1);
    expect(pulled.ack).toEqual({ acked: 1, stale: [] });
    await killHard(second.child);
  });

  it('refuses a broken sluice.yaml with the path named and exit code 2', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'sluice-cli-bad-'));
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(bad, 'sluice.yaml'), 'queues:\n  q: { mode: sideways }\n');
      const failed = await run(process.execPath, [MAIN, 'start', '--port', '0'], { cwd: bad }).catch((error: { code: number; stderr: string }) => error);
      expect((failed as { code: number }).code).toBe(2);
      expect((failed as { stderr: string }).stderr).toMatch(/queues\.q\.mode/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});

describe('client commands', () => {
  it('send, queues, limits set, schedule add, pull and dead replay talk to the API', async () => {
    const key = 'sk_cli_test_0123456789abcdef';
    const server = await spawnSluice(['--data-dir', join(dir, 'data2')], { SLUICE_ADMIN_KEY: key }, dir);
    const sent = await sluice(server.url, key, 'send', 'https://example.com/hook', '--json', '{"a":1}', '--delay', '60000', '--priority', '8');
    expect(sent.state).toBe('scheduled');
    const stored = await fetch(`${server.url}/v1/messages/${sent.id}`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await stored.json()) as { priority: number }).priority).toBe(8);
    const queues = await sluice(server.url, key, 'queues');
    expect(queues.queues.find((q: { name: string }) => q.name === 'outbound').depth.scheduled).toBe(1);
    const limit = await sluice(server.url, key, 'limits', 'set', 'example.com', '--concurrency', '3', '--rate', '5', '--burst', '2');
    expect(limit).toEqual({ host: 'example.com', concurrency: 3, ratePerSecond: 5, burst: 2 });
    const schedule = await sluice(server.url, key, 'schedule', 'add', 'nightly', 'https://example.com/report', '--cron', '0 2 * * *', '--timezone', 'Europe/Berlin');
    expect(schedule.nextRuns).toHaveLength(5);
    const replay = await sluice(server.url, key, 'dead', 'replay', 'default');
    expect(replay.replayed).toBe(0);
    const refused = await run(process.execPath, [MAIN, 'queues'], { env: { ...process.env, SLUICE_URL: server.url, SLUICE_KEY: 'wrong' } }).catch((e: { code: number; stderr: string }) => e);
    expect((refused as { code: number }).code).toBe(1);
    expect((refused as { stderr: string }).stderr).toContain('SLUICE_ERR_UNAUTHORIZED');
    await killHard(server.child);
  });

  it('keys create, list and revoke: the list shows no secret, and a revoked key is refused at once', async () => {
    const admin = 'sk_cli_keys_0123456789abcdef';
    const server = await spawnSluice(['--data-dir', join(dir, 'data3')], { SLUICE_ADMIN_KEY: admin }, dir);
    await fetch(`${server.url}/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"name":"acme"}' });
    const created = await sluice(server.url, admin, 'keys', 'create', '--tenant', 'acme');
    expect(created.key).toMatch(/^sk_/);
    expect((await sluice(server.url, created.key, 'queues')).queues.map((q: { name: string }) => q.name)).toEqual(['outbound.acme']);
    const listed = await sluice(server.url, admin, 'keys', 'list', '--tenant', 'acme');
    expect(listed.keys.map((k: { id: string }) => k.id)).toEqual([created.id]);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect(await sluice(server.url, admin, 'keys', 'revoke', '--tenant', 'acme', created.id)).toEqual({ tenant: 'acme', id: created.id, revoked: true });
    const refused = await run(process.execPath, [MAIN, 'queues'], { env: { ...process.env, SLUICE_URL: server.url, SLUICE_KEY: created.key } }).catch((e: { code: number; stderr: string }) => e);
    expect((refused as { stderr: string }).stderr).toContain('SLUICE_ERR_UNAUTHORIZED');
    await killHard(server.child);
  });
});
