import { afterEach, describe, expect, it } from 'vitest';
import { verifyRequest } from '../../src/ingest/verify/index.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';
import { maxInWindow } from '../support/windows.js';

let sluice: TestSluice | undefined;
const sinks: Sink[] = [];
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

async function sink(handler?: ConstructorParameters<typeof Sink>[0], host = '127.0.0.1') {
  const started = await new Sink(handler, host).start();
  sinks.push(started);
  return started;
}

const base = (extra: Record<string, unknown> = {}) => ({ network: { allowPrivate: true }, ...extra });

async function sendBatch(target: Sink, count: number, extra: Record<string, unknown> = {}) {
  const messages = Array.from({ length: count }, (_, i) => ({ url: `${target.origin}/hook/${i}`, body: { i }, ...extra }));
  const response = await sluice!.api('POST', '/v1/messages/batch', { messages });
  expect(response.status).toBe(201);
  return response.body.messages.map((m: { id: string }) => m.id) as string[];
}


describe('push delivery under limits', () => {
  it('never exceeds a domain concurrency and rate limit, and still delivers everything', async () => {
    const target = await sink(() => ({ status: 200, delayMs: 20 }));
    sluice = await startSluice(base({ limits: { domains: { [target.domain]: { concurrency: 5, ratePerSecond: 40, burst: 5 } } } }));
    const ids = await sendBatch(target, 120);
    await eventually(() => target.arrivals.length >= 120, 'all 120 deliveries');
    expect(target.maxInFlight).toBeLessThanOrEqual(5);
    // 40/s with burst 5: at most 5 + 40 sends in any second. Judged on the send times Sluice recorded, as the
    // sink's arrival times are blurred by scheduling jitter on a loaded machine.
    const sent = await Promise.all(
      ids.map(async (id) => Date.parse((await sluice!.api('GET', `/v1/messages/${id}`)).body.attempts[0].at as string)),
    );
    expect(maxInWindow(sent, 1_000)).toBeLessThanOrEqual(45);
    expect(Math.max(...sent) - Math.min(...sent)).toBeGreaterThanOrEqual(((120 - 5) / 40) * 1000 * 0.9);
    await eventually(async () => (await sluice!.api('GET', '/v1/queues/outbound')).body.depth.delivered === 120, 'delivered state recorded');
  });

  it('keeps a fast domain going while a slow one holds every request it gets', async () => {
    let answerSlow!: () => void;
    const slowAnswers = new Promise<void>((resolve) => (answerSlow = resolve));
    const slow = await sink(() => ({ status: 200, after: slowAnswers }), '127.0.0.2');
    const fast = await sink(() => ({ status: 200 }), '127.0.0.3');
    sluice = await startSluice(base({ limits: { domains: { [slow.domain]: { concurrency: 2 } } } }));
    await sendBatch(slow, 20);
    await sendBatch(fast, 100);
    // Not one slow request is answered until the fast domain is done: nothing it waits for is the slow one's.
    await eventually(() => fast.arrivals.length >= 100, 'the fast domain');
    expect(slow.arrivals.length).toBeLessThanOrEqual(2);
    expect(slow.maxInFlight).toBeLessThanOrEqual(2);
    answerSlow();
  });

  it('serves two tenants on one domain round-robin', async () => {
    // The first delivery is held until the second queue has messages claimed too: no head start for the first.
    let letFirstGo!: () => void;
    const firstHeld = new Promise<void>((resolve) => (letFirstGo = resolve));
    const target = await sink((_req, _body, arrival) => ({ status: 200, delayMs: 5, after: arrival === target.arrivals[0] ? firstHeld : undefined }));
    sluice = await startSluice(
      base({
        queues: { a: { mode: 'push', tenant: 'alpha' }, b: { mode: 'push', tenant: 'beta' } },
        limits: { domains: { [target.domain]: { concurrency: 1 } } },
      }),
    );
    const batch = (queue: string) => Array.from({ length: 60 }, (_, i) => ({ url: `${target.origin}/${queue}/${i}`, queue }));
    await sluice.api('POST', '/v1/messages/batch', { messages: batch('a') });
    await sluice.api('POST', '/v1/messages/batch', { messages: batch('b') });
    await eventually(async () => (await sluice!.api('GET', '/v1/queues/b')).body.depth.inflight > 0, "the second queue's first claim");
    letFirstGo();
    await eventually(() => target.arrivals.length >= 120, 'all deliveries');
    const first40 = target.arrivals.slice(0, 40).map((a) => a.url.split('/')[1]);
    const alpha = first40.filter((q) => q === 'a').length;
    expect(alpha).toBeGreaterThanOrEqual(15);
    expect(alpha).toBeLessThanOrEqual(25);
  });

  it('honours a per-tenant concurrency limit across domains', async () => {
    const one = await sink(() => ({ status: 200, delayMs: 100 }), '127.0.0.2');
    const two = await sink(() => ({ status: 200, delayMs: 100 }), '127.0.0.3');
    sluice = await startSluice(base({ limits: { tenants: { default: { concurrency: 3 } } } }));
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, one.inFlight + two.inFlight)), 2);
    await sendBatch(one, 15);
    await sendBatch(two, 15);
    await eventually(() => one.arrivals.length + two.arrivals.length >= 30, 'all deliveries');
    clearInterval(timer);
    expect(Math.max(peak, one.maxInFlight)).toBeLessThanOrEqual(3);
  });
});

describe('retries, Retry-After and dead letters', () => {
  it('honours Retry-After for the whole domain without using up an attempt', async () => {
    let first = true;
    const target = await sink(() => {
      if (!first) return { status: 200 };
      first = false;
      return { status: 429, headers: { 'retry-after': '1' } };
    });
    sluice = await startSluice(base());
    const [id] = await sendBatch(target, 1, { retry: { maxAttempts: 1 } });
    await eventually(() => target.arrivals.length >= 2, 'the retry after Retry-After');
    expect(target.arrivals[1]!.at - target.arrivals[0]!.at).toBeGreaterThanOrEqual(950);
    const message = await eventually(async () => {
      const view = (await sluice!.api('GET', `/v1/messages/${id}`)).body;
      return view.state === 'delivered' ? view : undefined;
    }, 'delivered');
    expect(message.attemptCount).toBe(1);
    expect(message.attempts.map((a: { status: number }) => a.status)).toEqual([429, 200]);
  });

  it('sends a 404 to dead after one try, and replay delivers it', async () => {
    let status = 404;
    const target = await sink(() => ({ status, body: 'no such hook' }));
    sluice = await startSluice(base());
    const [id] = await sendBatch(target, 1);
    const dead = await eventually(async () => {
      const view = (await sluice!.api('GET', `/v1/messages/${id}`)).body;
      return view.state === 'dead' ? view : undefined;
    }, 'dead');
    expect(target.arrivals).toHaveLength(1);
    expect(dead.attempts[0]).toMatchObject({ status: 404, response: 'no such hook' });
    expect((await sluice.api('GET', '/v1/queues/outbound/dead')).body.messages.map((m: { id: string }) => m.id)).toEqual([id]);
    status = 200;
    expect((await sluice.api('POST', '/v1/queues/outbound/dead/replay', { ids: [id] })).body.replayed).toBe(1);
    await eventually(async () => (await sluice!.api('GET', `/v1/messages/${id}`)).body.state === 'delivered', 'delivered after replay');
  });

  it('retries 5xx with backoff until maxAttempts, then dead', async () => {
    const target = await sink(() => ({ status: 500 }));
    sluice = await startSluice(base());
    const [id] = await sendBatch(target, 1, { retry: { maxAttempts: 3, backoff: { initialMs: 20, maxMs: 50 } } });
    const dead = await eventually(async () => {
      const view = (await sluice!.api('GET', `/v1/messages/${id}`)).body;
      return view.state === 'dead' ? view : undefined;
    }, 'dead after 3 attempts');
    expect(target.arrivals).toHaveLength(3);
    expect(dead.attemptCount).toBe(3);
    expect(dead.lastError).toContain('HTTP 500');
  });

  it('strict ordering holds a failing head until it is delivered', async () => {
    let failures = 2;
    const target = await sink((req) => {
      if (req.url === '/hook/0' && failures > 0) {
        failures -= 1;
        return { status: 503 };
      }
      return { status: 200 };
    });
    sluice = await startSluice(base({ queues: { ordered: { mode: 'push', ordering: 'strict', retry: { backoff: { initialMs: 30, maxMs: 60 } } } } }));
    await sendBatch(target, 5, { queue: 'ordered' });
    await eventually(() => target.arrivals.filter((a) => a.url !== '/hook/0').length >= 4, 'all delivered');
    const urls = target.arrivals.map((a) => a.url);
    expect(urls).toEqual(['/hook/0', '/hook/0', '/hook/0', '/hook/1', '/hook/2', '/hook/3', '/hook/4']);
  });

  it('relaxed ordering lets the lane move on past a failing head', async () => {
    let failures = 1;
    const target = await sink((req) => {
      if (req.url === '/hook/0' && failures > 0) {
        failures -= 1;
        return { status: 503 };
      }
      return { status: 200 };
    });
    sluice = await startSluice(base({ queues: { loose: { mode: 'push', retry: { backoff: { initialMs: 300, maxMs: 300 } } } }, limits: { defaultDomain: { concurrency: 1 } } }));
    await sendBatch(target, 4, { queue: 'loose' });
    await eventually(() => target.arrivals.length >= 5, 'all delivered');
    expect(target.arrivals.map((a) => a.url).slice(0, 4)).toEqual(['/hook/0', '/hook/1', '/hook/2', '/hook/3']);
  });
});

describe('outbound signing', () => {
  it('signs deliveries of a signing queue with Standard Webhooks headers a receiver can verify', async () => {
    const secret = `whsec_${Buffer.from('a-32-byte-signing-key-for-tests!').toString('base64')}`;
    const target = await sink();
    sluice = await startSluice(base({ queues: { signed: { mode: 'push', signingSecret: secret } } }));
    const created = await sluice.api('POST', '/v1/messages', { url: `${target.origin}/signed`, queue: 'signed', body: { order: 7 } });
    await eventually(() => target.arrivals.length === 1, 'the signed delivery');
    const arrival = target.arrivals[0]!;
    expect(arrival.headers['webhook-id']).toBe(`msg_${created.body.id}`);
    const verdict = verifyRequest(
      { type: 'standard-webhooks', secret, toleranceSec: 300 },
      { headers: arrival.headers, rawBody: arrival.body, query: new URLSearchParams() },
      Date.now(),
    );
    expect(verdict).toEqual({ ok: true });
    const tampered = verifyRequest(
      { type: 'standard-webhooks', secret, toleranceSec: 300 },
      { headers: arrival.headers, rawBody: Buffer.from('{"order":8}'), query: new URLSearchParams() },
      Date.now(),
    );
    expect(tampered.ok).toBe(false);
  });
});

describe('the SSRF guard', () => {
  it('refuses literal private and metadata targets at once, naming the field', async () => {
    sluice = await startSluice();
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/', 'http://[::1]:8080/', 'http://[::ffff:127.0.0.1]/', 'http://127.0.0.1:9/']) {
      const response = await sluice.api('POST', '/v1/messages', { url });
      expect(response.status, url).toBe(400);
      expect(response.body.detail).toMatch(/^url: /);
    }
    const batch = await sluice.api('POST', '/v1/messages/batch', { messages: [{ url: 'http://example.com/' }, { url: 'http://169.254.169.254/' }] });
    expect(batch.status).toBe(400);
    expect(batch.body.detail).toMatch(/^messages\.1\.url/);
    expect((await sluice.api('GET', '/v1/messages')).body.messages).toEqual([]);
  });

  it('refuses at connect time a name that resolves to loopback, unless allowed', async () => {
    const target = await sink();
    sluice = await startSluice({ network: { allowPrivate: [`127.0.0.1:${target.port}`] } });
    const refused = await sluice.api('POST', '/v1/messages', { url: `http://localhost:${target.port}/` });
    expect(refused.status).toBe(201);
    const dead = await eventually(async () => {
      const view = (await sluice!.api('GET', `/v1/messages/${refused.body.id}`)).body;
      return view.state === 'dead' ? view : undefined;
    }, 'the refused message to go dead');
    expect(dead.lastError).toMatch(/loopback/);
    expect(target.arrivals).toHaveLength(0);
    const allowed = await sluice.api('POST', '/v1/messages', { url: `${target.origin}/ok` });
    await eventually(() => target.arrivals.length === 1, 'the allowed delivery');
    expect(allowed.status).toBe(201);
  });
});

describe('live limits', () => {
  it('PUT/GET/DELETE a domain limit without a restart', async () => {
    const target = await sink(() => ({ status: 200, delayMs: 50 }));
    sluice = await startSluice(base());
    const put = await sluice.api('PUT', `/v1/limits/domains/${target.domain}`, { concurrency: 2 });
    expect(put.status).toBe(200);
    expect((await sluice.api('GET', `/v1/limits/domains/${target.domain}`)).body).toMatchObject({ host: target.domain, concurrency: 2 });
    await sendBatch(target, 20);
    await eventually(() => target.arrivals.length >= 20, 'deliveries');
    expect(target.maxInFlight).toBeLessThanOrEqual(2);
    expect((await sluice.api('DELETE', `/v1/limits/domains/${target.domain}`)).status).toBe(204);
    expect((await sluice.api('GET', `/v1/limits/domains/${target.domain}`)).status).toBe(404);
    expect((await sluice.api('PUT', '/v1/limits/domains/bad%2Fhost', { concurrency: 1 })).status).toBe(404);
    expect((await sluice.api('PUT', '/v1/limits/domains/api.example.com', { concurrency: 'x' })).status).toBe(400);
    expect((await sluice.api('PUT', '/v1/limits/domains/api.example.com', { burst: 3 })).status).toBe(400);
  });
});
