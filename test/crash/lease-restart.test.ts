import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killHard, spawnSluice, type ChildSluice } from '../support/child.js';

const KEY = 'sk_lease_restart_0123456789';
const SHORT_LEASE_MS = 3_000;
const dir = mkdtempSync(join(tmpdir(), 'sluice-lease-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = () => spawnSluice(['--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);

async function call(sluice: ChildSluice, path: string, body: unknown): Promise<any> {
  const response = await fetch(`${sluice.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return response.json();
}

interface Pulled {
  id: string;
  body: string;
  attempt: number;
  receipt: string;
  /** When the test had the answer: no earlier than when Sluice handed the message out. */
  answeredAt: number;
}

/** Pull (long-polling) until the message with `body` is among those handed out; return them all. */
async function pullUntil(sluice: ChildSluice, body: string): Promise<Pulled[]> {
  const pulled: Pulled[] = [];
  const deadline = Date.now() + 30_000;
  while (!pulled.some((m) => m.body === body)) {
    if (Date.now() > deadline) throw new Error(`${body} was not handed out; got ${JSON.stringify(pulled)}`);
    const answer = await call(sluice, '/v1/queues/default/pull', { max: 10, waitMs: 2_000 });
    const answeredAt = Date.now();
    for (const message of answer.messages as Omit<Pulled, 'answeredAt'>[]) pulled.push({ ...message, answeredAt });
  }
  return pulled;
}

describe('pull leases across kill -9', () => {
  it('restores open leases: not handed out again before they run out, and their receipts still ack', async () => {
    const first = await start();
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${first.url}/in/default`, { method: 'POST', body: `{"n":${i}}` })).status).toBe(202);
    // Sluice sets the short lease's deadline after this moment, so it runs out no earlier than SHORT_LEASE_MS from it.
    const shortAskedAt = Date.now();
    const short = await call(first, '/v1/queues/default/pull', { max: 1, visibilityTimeoutMs: SHORT_LEASE_MS });
    // Outlasts any kill and restart, however slow the machine: its message must not come back in this test.
    const long = await call(first, '/v1/queues/default/pull', { max: 1, visibilityTimeoutMs: 600_000 });
    await killHard(first.child);

    const second = await start();
    const pulled = await pullUntil(second, '{"n":2}');
    expect(pulled.map((m) => m.body)).not.toContain('{"n":1}');
    expect(await call(second, '/v1/queues/default/ack', { receipts: [long.messages[0].receipt] })).toEqual({ acked: 1, stale: [] });

    // The short lease runs out at the deadline set before the kill (a restart on a loaded machine can
    // take longer than that) and its message comes back as a second attempt, never before then.
    const returned = pulled.some((m) => m.body === '{"n":0}') ? pulled : await pullUntil(second, '{"n":0}');
    const again = returned.filter((m) => m.id === short.messages[0].id);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ body: '{"n":0}', attempt: 2 });
    expect(again[0]!.answeredAt).toBeGreaterThanOrEqual(shortAskedAt + SHORT_LEASE_MS);
  }, 60_000);
});
