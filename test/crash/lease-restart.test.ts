import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killHard, spawnSluice, type ChildSluice } from '../support/child.js';

const KEY = 'sk_lease_restart_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sluice-lease-'));
const children: ChildSluice[] = [];
afterAll(async () => {
  await Promise.all(children.map((sluice) => killHard(sluice.child)));
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<ChildSluice> {
  const sluice = await spawnSluice(['--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);
  children.push(sluice);
  return sluice;
}

async function call(sluice: ChildSluice, path: string, body: unknown): Promise<any> {
  const response = await fetch(`${sluice.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return response.json();
}

describe('pull leases across kill -9', () => {
  it('restores open leases: not handed out again before they run out, and their receipts still ack', async () => {
    const first = await start();
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${first.url}/in/default`, { method: 'POST', body: `{"n":${i}}` })).status).toBe(202);
    // Long enough to outlast a kill and a restart on a loaded machine (1.5 s did not, now and then;
    // 5 s did not with the machine's load average at 20 on 2 cores), and short enough for one long-poll.
    const short = await call(first, '/v1/queues/default/pull', { max: 1, visibilityTimeoutMs: 18_000 });
    const long = await call(first, '/v1/queues/default/pull', { max: 1, visibilityTimeoutMs: 60_000 });
    await killHard(first.child);

    const second = await start();
    const during = await call(second, '/v1/queues/default/pull', { max: 10 });
    expect(during.messages.map((m: { body: string }) => m.body)).toEqual(['{"n":2}']);
    expect(await call(second, '/v1/queues/default/ack', { receipts: [long.messages[0].receipt] })).toEqual({ acked: 1, stale: [] });
    // The short lease runs out (its deadline was set before the kill) and its message comes back.
    const after = await call(second, '/v1/queues/default/pull', { max: 10, waitMs: 20_000 });
    expect(after.messages).toHaveLength(1);
    expect(after.messages[0]).toMatchObject({ id: short.messages[0].id, attempt: 2 });
  }, 60_000);
});
