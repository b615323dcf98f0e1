import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.js';

/**
 * sluice.yaml and the API: a restart applies a file setting only when the file changed it since it
 * was last applied, so API changes survive an unchanged file and file edits still take effect.
 */
const dir = mkdtempSync(join(tmpdir(), 'sluice-file-api-'));
let running: TestSluice | undefined;
afterAll(async () => {
  await running?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function restart(config: Record<string, unknown>): Promise<TestSluice> {
  await running?.stop();
  running = await startSluice(config, { dir });
  return running;
}

async function get(sluice: TestSluice, path: string): Promise<any> {
  const response = await sluice.api('GET', path);
  expect(response.status, path).toBe(200);
  return response.body;
}

async function send(sluice: TestSluice, method: string, path: string, body?: unknown): Promise<void> {
  const response = await sluice.api(method, path, body);
  expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
}

const tenantLimit = async (sluice: TestSluice, tenant: string) =>
  (await get(sluice, '/v1/limits/tenants')).tenants.find((entry: { tenant: string }) => entry.tenant === tenant)?.concurrency;

function file(overrides: { url?: string; domainConcurrency?: number; tenantConcurrency?: number; cron?: string; withOrders?: boolean } = {}) {
  return {
    queues: overrides.withOrders === false ? {} : { orders: { mode: 'push', url: overrides.url ?? 'https://a.example.com/hook' } },
    limits: {
      domains: { 'api.example.com': { concurrency: overrides.domainConcurrency ?? 5 } },
      tenants: { acme: { concurrency: overrides.tenantConcurrency ?? 5 } },
    },
    schedules: { nightly: { cron: overrides.cron ?? '0 2 * * *', message: { queue: 'outbound', url: 'https://reports.example.com/run' } } },
  };
}

it('keeps API changes across restarts with an unchanged file, applies what the file changed, and leaves removed entries as they are', async () => {
  let sluice = await restart(file());
  await send(sluice, 'POST', '/v1/queues/orders/pause');
  await send(sluice, 'PUT', '/v1/limits/domains/api.example.com', { concurrency: 9, ratePerSecond: 3 });
  await send(sluice, 'PUT', '/v1/limits/tenants/acme', { concurrency: 8 });
  await send(sluice, 'PATCH', '/v1/schedules/nightly', { paused: true });

  // Same file: every API change stays.
  sluice = await restart(file());
  expect(await get(sluice, '/v1/queues/orders')).toMatchObject({ paused: true, url: 'https://a.example.com/hook' });
  expect(await get(sluice, '/v1/limits/domains/api.example.com')).toMatchObject({ concurrency: 9, ratePerSecond: 3 });
  expect(await tenantLimit(sluice, 'acme')).toBe(8);
  expect(await get(sluice, '/v1/schedules/nightly')).toMatchObject({ paused: true, cron: '0 2 * * *' });

  // The file changed some settings: those apply, the API's other changes stay.
  sluice = await restart(file({ url: 'https://b.example.com/hook', domainConcurrency: 6, tenantConcurrency: 6, cron: '0 3 * * *' }));
  expect(await get(sluice, '/v1/queues/orders')).toMatchObject({ paused: true, url: 'https://b.example.com/hook' });
  expect(await get(sluice, '/v1/limits/domains/api.example.com')).toMatchObject({ concurrency: 6, ratePerSecond: 3 });
  expect(await tenantLimit(sluice, 'acme')).toBe(6);
  expect(await get(sluice, '/v1/schedules/nightly')).toMatchObject({ paused: true, cron: '0 3 * * *' });

  // An entry removed from the file stays as storage has it (delete it through the API) ...
  sluice = await restart(file({ url: 'https://b.example.com/hook', domainConcurrency: 6, tenantConcurrency: 6, cron: '0 3 * * *', withOrders: false }));
  expect(await get(sluice, '/v1/queues/orders')).toMatchObject({ paused: true, url: 'https://b.example.com/hook' });

  // ... and one put back is applied anew, as the file says.
  sluice = await restart(file({ url: 'https://b.example.com/hook', domainConcurrency: 6, tenantConcurrency: 6, cron: '0 3 * * *' }));
  expect(await get(sluice, '/v1/queues/orders')).toMatchObject({ paused: false, url: 'https://b.example.com/hook' });
});
