import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { ADMIN_KEY, eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice;
afterEach(async () => sluice?.stop());

async function ingest(n: number, queue = 'default'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1) {
    const response = await fetch(`${sluice.url}/in/${queue}`, { method: 'POST', body: `{"n":${i}}`, headers: { 'content-type': 'application/json' } });
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}

const pull = (body: unknown, queue = 'default') => sluice.api('POST', `/v1/queues/${queue}/pull`, body);

describe('pull queues', () => {
  it('leases oldest first, with body, headers and receipt', async () => {
    sluice = await startSluice();
    const ids = await ingest(5);
    const first = await pull({ max: 3 });
    expect(first.status).toBe(200);
    expect(first.body.messages.map((m: { id: string }) => m.id)).toEqual(ids.slice(0, 3));
    const message = first.body.messages[0];
    expect(message.body).toBe('{"n":0}');
    expect(message.headers['content-type']).toBe('application/json');
    expect(message.contentType).toBe('application/json');
    expect(message.attempt).toBe(1);
    expect(typeof message.receipt).toBe('string');
    const second = await pull({ max: 10 });
    expect(second.body.messages.map((m: { id: string }) => m.id)).toEqual(ids.slice(3));
    expect((await pull({})).body.messages).toEqual([]);
  });

  it('returns binary bodies as base64', async () => {
    sluice = await startSluice();
    await fetch(`${sluice.url}/in/default`, { method: 'POST', body: Buffer.from([0xff, 0xfe, 0x00]) });
    const [message] = (await pull({})).body.messages;
    expect(message.body).toBeUndefined();
    expect(Buffer.from(message.bodyBase64, 'base64')).toEqual(Buffer.from([0xff, 0xfe, 0x00]));
  });

  it('acks, and reports stale receipts', async () => {
    sluice = await startSluice();
    await ingest(2);
    const messages = (await pull({ max: 2 })).body.messages;
    const receipts = messages.map((m: { receipt: string }) => m.receipt);
    const acked = await sluice.api('POST', '/v1/queues/default/ack', { receipts: [...receipts, '999.0123456789abcdef', 'garbage'] });
    expect(acked.body).toEqual({ acked: 2, stale: ['999.0123456789abcdef', 'garbage'] });
    const again = await sluice.api('POST', '/v1/queues/default/ack', { receipts });
    expect(again.body).toEqual({ acked: 0, stale: receipts });
  });

  it('redelivers expired leases in their original order, and an old receipt is stale after re-lease', async () => {
    sluice = await startSluice();
    const ids = await ingest(3);
    const first = (await pull({ max: 3, visibilityTimeoutMs: 200 })).body.messages;
    await eventually(async () => {
      const again = (await pull({ max: 3, visibilityTimeoutMs: 60_000 })).body.messages;
      if (again.length === 0) return false;
      expect(again.map((m: { id: string }) => m.id)).toEqual(ids);
      expect(again.every((m: { attempt: number }) => m.attempt === 2)).toBe(true);
      return true;
    }, 'expired leases to come back');
    const stale = await sluice.api('POST', '/v1/queues/default/ack', { receipts: [first[0].receipt] });
    expect(stale.body.acked).toBe(0);
  });

  it('sends a message received more than maxReceives times to dead', async () => {
    sluice = await startSluice({ queues: { q: { mode: 'pull', maxReceives: 2 } }, sources: { q: { queue: 'q' } } });
    const [id] = await ingest(1, 'q');
    for (let i = 0; i < 2; i += 1) {
      const [message] = (await pull({}, 'q')).body.messages;
      expect(message.id).toBe(id);
      await sluice.api('POST', '/v1/queues/q/nack', { receipts: [message.receipt] });
    }
    expect((await pull({}, 'q')).body.messages).toEqual([]);
    const dead = await sluice.api('GET', '/v1/queues/q/dead');
    expect(dead.body.messages.map((m: { id: string }) => m.id)).toEqual([id]);
    const replay = await sluice.api('POST', '/v1/queues/q/dead/replay', {});
    expect(replay.body.replayed).toBe(1);
    expect((await pull({}, 'q')).body.messages[0].id).toBe(id);
  });

  it('nack with delay hides the message until then; extend keeps a lease', async () => {
    // On a clock that moves only when told: a lease or delay cannot run out while a slow request is on its way.
    const clock = new ManualClock(Date.parse('2026-03-02T10:00:00.000Z'));
    sluice = await startSluice({}, { clock });
    await ingest(2);
    const [a, b] = (await pull({ max: 2, visibilityTimeoutMs: 300 })).body.messages;
    expect((await sluice.api('POST', '/v1/queues/default/nack', { receipts: [a.receipt], delayMs: 400 })).body.requeued).toBe(1);
    expect((await sluice.api('POST', '/v1/queues/default/extend', { receipts: [b.receipt], visibilityTimeoutMs: 60_000 })).body.extended).toBe(1);
    expect((await pull({})).body.messages).toEqual([]);
    clock.advance(399);
    expect((await pull({})).body.messages).toEqual([]);
    clock.advance(1);
    // b's first lease (300 ms) is over too: only the extension keeps it from coming back with a.
    const back = await eventually(async () => {
      const messages = (await pull({ max: 10 })).body.messages as { id: string }[];
      return messages.length > 0 ? messages : undefined;
    }, 'the delayed message');
    expect(back.map((m) => m.id)).toEqual([a.id]);
    expect((await sluice.api('POST', '/v1/queues/default/ack', { receipts: [b.receipt] })).body.acked).toBe(1);
  });

  it('long-poll wakes up when a message arrives, without waiting out waitMs', async () => {
    sluice = await startSluice();
    const started = Date.now();
    const waiting = pull({ waitMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [id] = await ingest(1);
    const result = await waiting;
    expect(result.body.messages.map((m: { id: string }) => m.id)).toEqual([id]);
    // Had it waited out waitMs, it would have answered no sooner than this.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('long-poll returns empty after waitMs when nothing comes', async () => {
    sluice = await startSluice();
    const started = Date.now();
    const result = await pull({ waitMs: 300 });
    expect(result.body.messages).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('reports depth by state and oldest ready age', async () => {
    sluice = await startSluice();
    await ingest(3);
    await pull({ max: 1 });
    const { body } = await sluice.api('GET', '/v1/queues');
    const queue = body.queues.find((q: { name: string }) => q.name === 'default');
    expect(queue.depth.ready).toBe(2);
    expect(queue.depth.leased).toBe(1);
    expect(queue.oldestReadyAgeMs).toBeGreaterThanOrEqual(0);
    expect(queue.mode).toBe('pull');
  });

  it('pause stops leasing, resume starts it again', async () => {
    sluice = await startSluice();
    await ingest(1);
    await sluice.api('POST', '/v1/queues/default/pause');
    expect((await pull({})).body.messages).toEqual([]);
    await sluice.api('POST', '/v1/queues/default/resume');
    expect((await pull({})).body.messages).toHaveLength(1);
  });
});

describe('auth and bad input', () => {
  it('refuses /v1 without a key or with a wrong one', async () => {
    sluice = await startSluice();
    const none = await sluice.api('GET', '/v1/queues', undefined, null);
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('SLUICE_ERR_UNAUTHORIZED');
    expect((await sluice.api('GET', '/v1/queues', undefined, ADMIN_KEY + 'x')).status).toBe(401);
  });

  it('names the field of a wrong JSON type, and changes nothing', async () => {
    sluice = await startSluice();
    await ingest(1);
    const wrong = await pull({ max: 'ten' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe('SLUICE_ERR_VALIDATION');
    expect(wrong.body.detail).toContain('max');
    expect((await pull({ max: 5000 })).status).toBe(400);
    expect((await pull({ unknown: 1 })).body.detail).toContain('unknown');
    const notJson = await sluice.api('POST', '/v1/queues/default/pull', '{not json');
    expect(notJson.body.code).toBe('SLUICE_ERR_INVALID_JSON');
    expect((await pull({})).body.messages).toHaveLength(1);
  });

  it('answers 404 for unknown queues and routes, 409 for the wrong mode', async () => {
    sluice = await startSluice();
    expect((await pull({}, 'missing')).body.code).toBe('SLUICE_ERR_QUEUE_NOT_FOUND');
    expect((await sluice.api('GET', '/v1/nothing')).status).toBe(404);
    expect((await pull({}, 'outbound')).body.code).toBe('SLUICE_ERR_WRONG_QUEUE_MODE');
  });

  it('lets a tenant key see only its own queues', async () => {
    sluice = await startSluice({ queues: { mine: { mode: 'pull', tenant: 'acme' }, default: { mode: 'pull' } }, sources: { default: { queue: 'default' } } });
    await sluice.api('POST', '/v1/tenants', { name: 'acme' }).catch(() => {});
    const { body } = await sluice.api('POST', '/v1/tenants/acme/keys');
    const key = body.key as string;
    const listed = await sluice.api('GET', '/v1/queues', undefined, key);
    expect(listed.body.queues.map((q: { name: string }) => q.name).sort()).toEqual(['mine', 'outbound.acme']); // and its default queue
    expect((await sluice.api('POST', '/v1/queues/default/pull', {}, key)).status).toBe(404);
    expect((await sluice.api('PUT', '/v1/limits/tenants/acme', { concurrency: 3 }, key)).status).toBe(403);
  });
});
