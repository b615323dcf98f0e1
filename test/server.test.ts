import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SluiceClient } from '../src/client/client.js';
import { ConfigError, startSluice, type RunningSluice } from '../src/server.js';

/** `sluice/server`: a node in the caller's process, as users' own tests start it. */
const running: RunningSluice[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startSluice>[0] = {}): Promise<RunningSluice> {
  const node = await startSluice({ ...options, config: { log: { level: 'silent' }, ...options.config } });
  running.push(node);
  return node;
}

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-server-'));
  dirs.push(dir);
  return dir;
}

describe('startSluice', () => {
  it('with no options: any free port on 127.0.0.1, a temp data dir removed on stop, a generated admin key, the default queue', async () => {
    const node = await start();
    expect(node.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(node.adminKey.length).toBeGreaterThanOrEqual(16);
    expect(readFileSync(join(node.dataDir, 'admin.key'), 'utf8').trim()).toBe(node.adminKey);

    const { id } = await node.client.ingest('default', '{"hello":"world"}');
    const { messages } = await node.client.pull('default', { waitMs: 1000 });
    expect(messages.map((m) => [m.id, m.body])).toEqual([[id, '{"hello":"world"}']]);

    await node.stop();
    await node.stop();
    expect(existsSync(node.dataDir)).toBe(false);
  });

  it('keeps a given data dir: messages and the generated admin key survive a restart', async () => {
    const dataDir = scratchDir();
    const first = await start({ dataDir });
    const { id } = await first.client.ingest('default', 'kept');
    await first.stop();
    expect(existsSync(join(dataDir, 'sluice.db'))).toBe(true);

    const second = await start({ dataDir });
    expect(second.adminKey).toBe(first.adminKey);
    expect((await second.client.pull('default')).messages.map((m) => m.id)).toEqual([id]);
  });

  it('takes an admin key, an environment for ${VAR}, and a configuration validated by the same schema as sluice.yaml', async () => {
    const node = await start({
      adminKey: 'sk_embedded_admin_key_0123',
      env: { ORDERS_TOKEN: 'secret-token' },
      config: {
        queues: { orders: { mode: 'pull', maxReceives: 3 } },
        sources: { shop: { queue: 'orders', verify: { type: 'token', header: 'x-token', secret: '${ORDERS_TOKEN}' } } },
      },
    });
    expect(node.adminKey).toBe('sk_embedded_admin_key_0123');
    expect((await new SluiceClient({ url: node.url, key: 'sk_embedded_admin_key_0123' }).getQueue('orders')).maxReceives).toBe(3);
    await expect(node.client.ingest('shop', 'x', { headers: { 'x-token': 'wrong' } })).rejects.toMatchObject({ status: 401 });
    expect((await node.client.ingest('shop', 'x', { headers: { 'x-token': 'secret-token' } })).status).toBe(202);
    expect((await node.client.queues()).queues.map((q) => q.name)).not.toContain('default');
  });

  it("never reads the process's own SLUICE_* environment", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { SLUICE_ADMIN_KEY: 'sk_from_the_environment_0123', SLUICE_PORT: '1', SLUICE_DATA_DIR: '/nonexistent' });
    try {
      const node = await start();
      expect(node.adminKey).not.toBe('sk_from_the_environment_0123');
      expect(node.url).not.toMatch(/:1$/);
    } finally {
      process.env = saved;
    }
  });

  it('refuses what sluice start refuses, with ConfigError naming the path, and leaves no temp dir behind', async () => {
    // os.tmpdir() reads TMPDIR on each call: the temp dirs these starts make land where only this test looks.
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = scratchDir();
    try {
      await expect(startSluice({ config: { queues: { orders: { mode: 'pull', colour: 'blue' } } } as never })).rejects.toThrow(ConfigError);
      await expect(startSluice({ config: { queues: { orders: { mode: 'sideways' } } } as never })).rejects.toThrow(/queues\.orders\.mode/);
      await expect(startSluice({ adminKey: 'short' })).rejects.toThrow(/at least 16/);
      expect(readdirSync(process.env.TMPDIR)).toEqual([]);
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
  });
});
