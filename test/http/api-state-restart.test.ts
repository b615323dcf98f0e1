import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.js';

const dirs: string[] = [];
const running: TestSluice[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sluice) => sluice.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-restart-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, config: Record<string, unknown>): Promise<TestSluice> {
  const sluice = await startSluice(config, { dir });
  running.push(sluice);
  return sluice;
}

async function ok(sluice: TestSluice, method: string, path: string, body?: unknown): Promise<any> {
  const response = await sluice.api(method, path, body);
  expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
  return response.body;
}

/** What the API shows of every piece of state this test changes (nothing that moves with the clock). */
async function snapshot(sluice: TestSluice) {
  const { nextRuns: _upcoming, ...schedule } = await ok(sluice, 'GET', '/v1/schedules/nightly');
  return {
    billing: await ok(sluice, 'GET', '/v1/queues/billing'),
    orders: await ok(sluice, 'GET', '/v1/queues/orders'),
    domain: await ok(sluice, 'GET', '/v1/limits/domains/api.example.com'),
    tenants: (await ok(sluice, 'GET', '/v1/limits/tenants')).tenants.filter((tenant: { tenant: string }) => tenant.tenant === 'acme'),
    schedule,
  };
}

const FILE = { queues: { orders: { mode: 'push', url: 'https://orders.example.com/hook' } } };

describe('everything the API creates or changes survives a restart', () => {
  it('queues (with a retry policy), pause, domain and tenant limits, schedules and their pause', async () => {
    const dir = tempDir();
    const first = await start(dir, FILE);
    await ok(first, 'PUT', '/v1/queues/billing', {
      mode: 'push',
      url: 'https://billing.example.com/hook',
      retry: { maxAttempts: 3, backoff: { initialMs: 500, maxMs: 60_000 }, retryOn: [500, 503] },
      timeouts: { connectMs: 2_000 },
    });
    await ok(first, 'POST', '/v1/queues/orders/pause');
    await ok(first, 'PUT', '/v1/limits/domains/api.example.com', { concurrency: 3, ratePerSecond: 2, burst: 4 });
    await ok(first, 'POST', '/v1/tenants', { name: 'acme' });
    await ok(first, 'PUT', '/v1/limits/tenants/acme', { concurrency: 7 });
    await ok(first, 'POST', '/v1/schedules', { name: 'nightly', cron: '0 2 * * *', message: { queue: 'billing' } });
    await ok(first, 'PATCH', '/v1/schedules/nightly', { paused: true });
    const before = await snapshot(first);
    expect(before.billing.retry).toEqual({ maxAttempts: 3, initialMs: 500, maxMs: 60_000, multiplier: 2, retryOn: [500, 503] });
    expect(before.orders.paused).toBe(true);
    expect(before.tenants).toEqual([expect.objectContaining({ tenant: 'acme', inFlight: 0, concurrency: 7 })]);
    expect(before.schedule.paused).toBe(true);
    await first.stop();

    const second = await start(dir, FILE);
    expect(await snapshot(second)).toEqual(before);
  });

  it('a stored row that cannot be read stops the start, naming it', async () => {
    const dir = tempDir();
    const first = await start(dir, {});
    await ok(first, 'PUT', '/v1/queues/billing', { mode: 'pull', retry: { backoff: { initialMs: 500 } } });
    await first.stop();
    const db = new Database(join(dir, 'data', 'sluice.db'));
    const row = db.prepare(`SELECT config FROM queues WHERE name = 'billing'`).get() as { config: string };
    const config = JSON.parse(row.config);
    config.retry.initialMs = -1;
    db.prepare(`UPDATE queues SET config = ? WHERE name = 'billing'`).run(JSON.stringify(config));
    db.close();

    await expect(startSluice({}, { dir })).rejects.toThrow(/stored queue "billing" cannot be read: retry\.backoff\.initialMs: /);
    // The failed start let go of the data dir: a good row starts again.
    const fixed = new Database(join(dir, 'data', 'sluice.db'));
    fixed.prepare(`UPDATE queues SET config = ? WHERE name = 'billing'`).run(row.config);
    fixed.close();
    const again = await start(dir, {});
    expect((await ok(again, 'GET', '/v1/queues/billing')).retry.initialMs).toBe(500);
  });
});
