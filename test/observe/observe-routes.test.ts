import { afterEach, describe, expect, it } from 'vitest';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
const sinks: Sink[] = [];
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

/** A sink that answers 429 with a long Retry-After: the domain stays paused for the whole test. */
async function throttlingSink(): Promise<Sink> {
  const sink = await new Sink(() => ({ status: 429, headers: { 'retry-after': '120' }, body: 'slow down' }), '127.0.0.2').start();
  sinks.push(sink);
  return sink;
}

async function slowOkSink(): Promise<Sink> {
  const sink = await new Sink(() => ({ status: 200, delayMs: 30 }), '127.0.0.3').start();
  sinks.push(sink);
  return sink;
}

async function start(throttled: Sink, fast?: Sink): Promise<TestSluice> {
  const domains: Record<string, unknown> = { [throttled.domain]: { concurrency: 4, ratePerSecond: 50, burst: 5 } };
  if (fast) domains[fast.domain] = { concurrency: 2 };
  sluice = await startSluice({ network: { allowPrivate: true }, limits: { domains } });
  return sluice;
}

async function send(target: Sink, count: number): Promise<string[]> {
  const messages = Array.from({ length: count }, (_, i) => ({ url: `${target.origin}/hook/${i}`, body: { i } }));
  const response = await sluice!.api('POST', '/v1/messages/batch', { messages });
  expect(response.status).toBe(201);
  return response.body.messages.map((m: { id: string }) => m.id);
}

describe('GET /v1/stats', () => {
  it('shows a throttled domain with its limits, state and numbers, queues, tenants and totals', async () => {
    const throttled = await throttlingSink();
    const fast = await slowOkSink();
    await start(throttled, fast);
    await send(throttled, 6);
    await send(fast, 5);
    await eventually(() => throttled.arrivals.length >= 1 && fast.arrivals.length >= 5, 'first deliveries');
    const stats = await eventually(async () => {
      const { body } = await sluice!.api('GET', '/v1/stats');
      const fastDomain = body.domains.find((d: { domain: string }) => d.domain === fast.domain);
      return fastDomain?.delivered === 5 && body.domains.some((d: { domain: string; status: string }) => d.domain === throttled.domain && d.status === 'paused') ? body : undefined;
    }, 'stats with both domains');

    const domain = stats.domains.find((d: { domain: string }) => d.domain === throttled.domain);
    expect(domain.limit).toEqual({ concurrency: 4, ratePerSecond: 50, burst: 5 });
    expect(domain.effectiveConcurrency).toBeLessThan(4);
    expect(domain.inFlight).toBe(0);
    expect(domain.failed).toBeGreaterThanOrEqual(1);
    expect(domain.delivered).toBe(0);
    expect(Date.parse(domain.throttledSince)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(domain.pausedUntil)).toBeGreaterThan(Date.now() + 60_000);
    expect(domain.circuit).toBe('closed');
    expect(domain.latencyMs.p50).toBeGreaterThan(0);

    const ok = stats.domains.find((d: { domain: string }) => d.domain === fast.domain);
    expect(ok.status).toBe('ok');
    expect(ok.failed).toBe(0);
    // the sink answers after 30 ms: the median cannot be below that (buckets are ~10 % wide)
    expect(ok.latencyMs.p50).toBeGreaterThanOrEqual(25);
    expect(ok.latencyMs.p99).toBeGreaterThanOrEqual(ok.latencyMs.p50);

    const outbound = stats.queues.find((q: { name: string }) => q.name === 'outbound');
    expect(outbound.received).toBe(11);
    expect(outbound.depth.delivered + outbound.depth.ready + outbound.depth.inflight + outbound.depth.scheduled).toBe(11);
    expect(stats.totals).toMatchObject({ received: 11, delivered: 5 });
    expect(stats.totals.failed).toBeGreaterThanOrEqual(1);
    expect(stats.totals.retried).toBe(stats.totals.failed);
    expect(stats.tenants.map((t: { tenant: string }) => t.tenant)).toContain('default');
    expect(stats.recentEvents.some((e: { type: string; domain?: string }) => e.type === 'throttled' && e.domain === throttled.domain)).toBe(true);
  });

  it('shows a tenant key only its own queues, tenant and domains', async () => {
    const throttled = await throttlingSink();
    await start(throttled);
    await send(throttled, 2);
    await eventually(() => throttled.arrivals.length >= 1, 'a delivery');
    expect((await sluice!.api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
    const key = (await sluice!.api('POST', '/v1/tenants/acme/keys')).body.key as string;
    expect((await sluice!.api('PUT', '/v1/queues/acme-in', { mode: 'pull' }, key)).status).toBe(201);
    const { status, body } = await sluice!.api('GET', '/v1/stats', undefined, key);
    expect(status).toBe(200);
    expect(body.scope).toBe('tenant');
    expect(body.queues.map((q: { name: string }) => q.name).sort()).toEqual(['acme-in', 'outbound.acme']); // and its default queue
    expect(body.tenants.map((t: { tenant: string }) => t.tenant)).toEqual(['acme']);
    expect(body.domains).toEqual([]);
    expect(body.totals.received).toBe(0);
    expect(body.recentEvents).toEqual([]);
    expect((await sluice!.api('GET', '/v1/stats', undefined, null)).status).toBe(401);
  });
});

/** Read Server-Sent Events from a fetch body until `enough` says stop. */
async function readEvents(response: Response, enough: (events: { type: string; data: any }[]) => boolean, timeoutMs = 15_000) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { type: string; data: any }[] = [];
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (!enough(events)) {
      if (Date.now() > deadline) throw new Error(`stream ended the wait with only: ${events.map((e) => e.type).join(', ')}`);
      const { value, done } = await reader.read();
      if (done) throw new Error('stream closed early');
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.+)$/m.exec(frame)?.[1];
        const data = /^data: (.+)$/m.exec(frame)?.[1];
        if (type && data) events.push({ type, data: JSON.parse(data) });
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}

describe('GET /v1/stats/stream', () => {
  it('sends snapshots every second and throttled/backpressure events as they happen', async () => {
    const throttled = await throttlingSink();
    await start(throttled);
    const response = await fetch(`${sluice!.url}/v1/stats/stream`, { headers: { authorization: `Bearer ${sluice!.key}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await send(throttled, 8);
    const events = await readEvents(
      response,
      (seen) => seen.filter((e) => e.type === 'snapshot').length >= 3 && seen.some((e) => e.type === 'throttled') && seen.some((e) => e.type === 'backpressure'),
    );
    const throttledEvent = events.find((e) => e.type === 'throttled')!;
    expect(throttledEvent.data).toMatchObject({ domain: throttled.domain, status: 429 });
    expect(Date.parse(throttledEvent.data.at)).toBeGreaterThan(0);
    // four slots, eight messages: the rest wait for concurrency, then for Retry-After
    const reasons = events.filter((e) => e.type === 'backpressure').map((e) => e.data.reason);
    expect(reasons.every((reason) => reason === 'concurrency' || reason === 'retry-after')).toBe(true);
    expect(events.find((e) => e.type === 'backpressure')!.data.domain).toBe(throttled.domain);
    const snapshots = events.filter((e) => e.type === 'snapshot');
    expect(snapshots[0]!.data).toHaveProperty('totals');
    expect(snapshots.at(-1)!.data.domains.find((d: { domain: string }) => d.domain === throttled.domain)).toMatchObject({ status: 'paused' });
    await eventually(() => sluice!.app.telemetry.streams.size === 0, 'streams closed on the server');
  });

  it('needs a key', async () => {
    sluice = await startSluice();
    expect((await fetch(`${sluice.url}/v1/stats/stream`)).status).toBe(401);
  });
});

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*",?)*\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?$/;
const COMMENT = /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/;

/** Parse Prometheus text format strictly: every line a comment or a sample. Returns samples by name. */
function parseProm(text: string): Map<string, { labels: string; value: number }[]> {
  const samples = new Map<string, { labels: string; value: number }[]>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      expect(line, 'comment line').toMatch(COMMENT);
      continue;
    }
    const match = SAMPLE.exec(line);
    expect(match, `sample line: ${line}`).not.toBeNull();
    const list = samples.get(match![1]!) ?? [];
    list.push({ labels: match![2] ?? '', value: Number(match![3]) });
    samples.set(match![1]!, list);
  }
  return samples;
}

describe('GET /metrics', () => {
  it('is Prometheus text with the documented metrics, behind the admin key', async () => {
    const throttled = await throttlingSink();
    const fast = await slowOkSink();
    await start(throttled, fast);
    await send(throttled, 3);
    await send(fast, 4);
    await eventually(() => fast.arrivals.length >= 4 && throttled.arrivals.length >= 1, 'deliveries');
    expect((await fetch(`${sluice!.url}/metrics`)).status).toBe(401);
    const scrape = async () => {
      const response = await fetch(`${sluice!.url}/metrics`, { headers: { authorization: `Bearer ${sluice!.key}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parseProm(await response.text());
    };
    const samples = await eventually(async () => {
      const parsed = await scrape();
      return parsed.get('sluice_deliveries_total')?.some((s) => s.labels.includes(fast.domain) && s.labels.includes('outcome="delivered"') && s.value === 4) ? parsed : undefined;
    }, 'four deliveries counted');
    const find = (name: string, ...parts: string[]) => samples.get(name)?.find((s) => parts.every((part) => s.labels.includes(part)));
    expect(find('sluice_messages_received_total', 'queue="outbound"')?.value).toBe(7);
    expect(find('sluice_deliveries_total', `domain="${throttled.domain}"`, 'outcome="failed"')?.value).toBeGreaterThanOrEqual(1);
    expect(find('sluice_delivery_retries_total', 'queue="outbound"')?.value).toBeGreaterThanOrEqual(1);
    expect(samples.has('sluice_messages_dead_total')).toBe(true);
    expect(find('sluice_domain_concurrency_limit', `domain="${throttled.domain}"`)?.value).toBe(4);
    expect(find('sluice_domain_effective_concurrency', `domain="${throttled.domain}"`)?.value).toBeLessThan(4);
    expect(samples.get('sluice_domain_in_flight')).toBeDefined();
    expect(find('sluice_queue_depth', 'queue="outbound"', 'state="ready"')).toBeDefined();
    expect(find('sluice_queue_oldest_ready_age_seconds', 'queue="outbound"')?.value).toBeGreaterThanOrEqual(0);
    expect(find('sluice_domain_circuit_open', `domain="${throttled.domain}"`)?.value).toBe(0);
    expect(find('sluice_delivery_latency_seconds_count', 'outcome="delivered"')?.value).toBe(4);
    expect(find('sluice_delivery_latency_seconds_bucket', 'outcome="delivered"', 'le="+Inf"')?.value).toBe(4);
    expect(samples.has('sluice_ingest_latency_seconds_bucket')).toBe(true);
    expect(samples.has('sluice_in_flight')).toBe(true);
    expect(samples.has('process_resident_memory_bytes')).toBe(true);
  });
});
