import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { storedSize } from '../../src/store/types.js';
import { rawRequest } from '../support/raw-http.js';
import { ADMIN_KEY, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice;
afterEach(async () => sluice?.stop());

/** `n` requests sent at once; their statuses and Retry-After headers. */
async function together(n: number, send: (index: number) => Promise<Response>) {
  const responses = await Promise.all(Array.from({ length: n }, (_, index) => send(index)));
  return Promise.all(
    responses.map(async (response) => ({ status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() })),
  );
}

function outbound(queue: string, index: number) {
  return fetch(`${sluice.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ queue, url: 'https://example.com/hook', body: { index }, delayMs: 3_600_000 }),
  });
}

async function stored(queue: string): Promise<number> {
  const counts = await sluice.app.queues.refreshCounts();
  const states = counts.get(queue)?.states;
  return states ? states.scheduled + states.ready + states.leased + states.inflight : 0;
}

describe('maxDepth under concurrent senders', () => {
  it('admits exactly maxDepth of 200 concurrent ingest requests; the rest get 503 with Retry-After', async () => {
    sluice = await startSluice({ queues: { small: { mode: 'pull', maxDepth: 5 } }, sources: { s: { queue: 'small' } } });
    const answers = await together(200, (index) => fetch(`${sluice.url}/in/s`, { method: 'POST', body: `{"n":${index}}` }));
    const accepted = answers.filter((answer) => answer.status === 202);
    const refused = answers.filter((answer) => answer.status !== 202);
    expect(accepted).toHaveLength(5);
    expect(refused.every((answer) => answer.status === 503 && answer.retryAfter !== null)).toBe(true);
    expect(refused.every((answer) => JSON.parse(answer.body).code === 'SLUICE_ERR_QUEUE_FULL')).toBe(true);
    expect(await stored('small')).toBe(5);
  });

  it('holds maxDepth for POST /v1/messages and for batches', async () => {
    sluice = await startSluice({ queues: { out: { mode: 'push', maxDepth: 5, url: 'https://example.com/' } } });
    const answers = await together(100, (index) => outbound('out', index));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(5);
    expect(answers.every((answer) => answer.status === 201 || (answer.status === 503 && answer.retryAfter !== null))).toBe(true);
    expect(await stored('out')).toBe(5);

    const batch = await sluice.api('POST', '/v1/messages/batch', { messages: [{ queue: 'out', url: 'https://example.com/x' }] });
    expect(batch.status).toBe(503);
    expect(batch.body.code).toBe('SLUICE_ERR_QUEUE_FULL');
    expect(await stored('out')).toBe(5);
  });

  it('gives the room back when a request is refused after it was admitted', async () => {
    sluice = await startSluice({
      queues: { small: { mode: 'pull', maxDepth: 2 } },
      sources: { s: { queue: 'small', verify: { type: 'token', header: 'x-token', secret: 'right-token-value' } } },
    });
    for (let i = 0; i < 5; i += 1) {
      const refused = await fetch(`${sluice.url}/in/s`, { method: 'POST', body: 'x', headers: { 'x-token': 'wrong' } });
      expect(refused.status).toBe(401);
    }
    expect(sluice.app.queues.reserved('small')).toBe(0);
    const ok = await fetch(`${sluice.url}/in/s`, { method: 'POST', body: 'x', headers: { 'x-token': 'right-token-value' } });
    expect(ok.status).toBe(202);
  });
});

describe('per-tenant depth quota', () => {
  const config = {
    limits: { tenants: { acme: { maxDepth: 4 } } },
    queues: { a1: { mode: 'pull', tenant: 'acme' }, a2: { mode: 'pull', tenant: 'acme' }, other: { mode: 'pull' } },
    sources: { a1: { queue: 'a1' }, a2: { queue: 'a2' }, other: { queue: 'other' } },
  };

  it('admits exactly the quota across the tenant queues under concurrency; 429 SLUICE_ERR_TENANT_QUOTA with Retry-After beyond', async () => {
    sluice = await startSluice(config);
    const answers = await together(100, (index) => fetch(`${sluice.url}/in/${index % 2 === 0 ? 'a1' : 'a2'}`, { method: 'POST', body: 'x' }));
    expect(answers.filter((answer) => answer.status === 202)).toHaveLength(4);
    const refused = answers.filter((answer) => answer.status !== 202);
    expect(refused.every((answer) => answer.status === 429 && answer.retryAfter !== null)).toBe(true);
    expect(refused.every((answer) => JSON.parse(answer.body).code === 'SLUICE_ERR_TENANT_QUOTA')).toBe(true);
    expect((await stored('a1')) + (await stored('a2'))).toBe(4);
    // Another tenant is not held back by acme's quota.
    expect((await fetch(`${sluice.url}/in/other`, { method: 'POST', body: 'x' })).status).toBe(202);
  });

  it('is set through PUT /v1/limits/tenants/{t}, applies to POST /v1/messages, and survives a restart', async () => {
    sluice = await startSluice({ queues: { out: { mode: 'push', tenant: 'acme', url: 'https://example.com/' } }, limits: { tenants: { acme: { concurrency: 5 } } } });
    const put = await sluice.api('PUT', '/v1/limits/tenants/acme', { concurrency: 5, maxDepth: 3 });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ tenant: 'acme', concurrency: 5, maxDepth: 3 });
    const answers = await together(30, (index) => outbound('out', index));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(3);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(27);
    expect((await sluice.app.store.listTenants()).find((tenant) => tenant.name === 'acme')?.maxDepth).toBe(3);
    const refusedBody = await sluice.api('PUT', '/v1/limits/tenants/acme', {});
    expect(refusedBody.status).toBe(400);
  });
});

describe('per-tenant stored-bytes quota', () => {
  /** A push message whose stored size is exactly its body: a string body adds no header. */
  const sized = (queue: string, bytes: number) =>
    fetch(`${sluice.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ queue, url: 'https://example.com/hook', body: 'x'.repeat(bytes - 2), delayMs: 3_600_000 }), // + "[]"
    });
  const storedBytes = async (queue: string) => (await sluice.app.queues.refreshCounts()).get(queue)?.storedBytes ?? 0;

  it('admits exactly what fits under concurrency; 429 SLUICE_ERR_TENANT_QUOTA with Retry-After beyond', async () => {
    sluice = await startSluice({
      limits: { tenants: { acme: { maxStoredBytes: 5_000 } } },
      queues: { out: { mode: 'push', tenant: 'acme', url: 'https://example.com/' }, free: { mode: 'push', url: 'https://example.com/' } },
    });
    const answers = await together(30, () => sized('out', 1_000));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(5);
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(refused.every((answer) => answer.status === 429 && answer.retryAfter !== null)).toBe(true);
    expect(refused.map((answer) => JSON.parse(answer.body))).toContainEqual(expect.objectContaining({ code: 'SLUICE_ERR_TENANT_QUOTA', maxStoredBytes: 5_000 }));
    expect(await storedBytes('out')).toBe(5_000);
    expect((await sized('free', 1_000)).status).toBe(201); // other tenants are not held back
  });

  it('holds for ingest, where the size is known only once the body is read, and refuses a full tenant before reading it', async () => {
    sluice = await startSluice({
      limits: { tenants: { acme: { maxStoredBytes: 20_000 } } },
      queues: { a: { mode: 'pull', tenant: 'acme' }, out: { mode: 'push', tenant: 'acme', url: 'https://example.com/' } },
      sources: { a: { queue: 'a' } },
    });
    const body = 'y'.repeat(1_500);
    const answers = await together(40, () => fetch(`${sluice.url}/in/a`, { method: 'POST', body, headers: { 'x-pad': 'z' } }));
    const accepted = answers.filter((answer) => answer.status === 202);
    expect(answers.filter((answer) => answer.status !== 202).every((answer) => answer.status === 429 && answer.retryAfter !== null)).toBe(true);
    const { id } = JSON.parse(accepted[0]!.body) as { id: string };
    const size = storedSize((await sluice.app.store.getMessage(id))!);
    expect(accepted).toHaveLength(Math.floor(20_000 / size)); // every request has the same size
    expect(await storedBytes('a')).toBe(accepted.length * size);

    // Filled to the byte: a webhook for the tenant is refused from its headers, its body never awaited.
    if (20_000 - accepted.length * size >= 2) expect((await sized('out', 20_000 - accepted.length * size)).status).toBe(201);
    const stalled = rawRequest(sluice.url, 'POST /in/a HTTP/1.1\r\ncontent-length: 1500');
    expect(await stalled.status).toBe(429);
    stalled.socket.destroy();
  });

  it('is set through PUT /v1/limits/tenants/{t}, and it and the bytes stored survive a restart', async () => {
    const config = { queues: { out: { mode: 'push', tenant: 'acme', url: 'https://example.com/' } } };
    sluice = await startSluice(config);
    const put = await sluice.api('PUT', '/v1/limits/tenants/acme', { maxStoredBytes: 3_000 });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ tenant: 'acme', maxStoredBytes: 3_000 });
    expect((await sized('out', 2_000)).status).toBe(201);
    expect((await sized('out', 2_000)).status).toBe(429);
    await sluice.app.queues.refreshCounts();
    const shown = (await sluice.api('GET', '/v1/limits/tenants')).body.tenants.find((tenant: { tenant: string }) => tenant.tenant === 'acme');
    expect(shown).toMatchObject({ maxStoredBytes: 3_000, storedBytes: 2_000, maxDepth: null, depth: 1 });
    const dir = sluice.dir;
    await sluice.app.stop();

    const restarted = await startSluice(config, { dir });
    try {
      sluice = restarted;
      expect((await sluice.app.store.listTenants()).find((tenant) => tenant.name === 'acme')?.maxStoredBytes).toBe(3_000);
      expect((await sized('out', 1_500)).status).toBe(429);
      expect((await sized('out', 1_000)).status).toBe(201);
    } finally {
      await restarted.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
