import { afterEach, describe, expect, it } from 'vitest';
import { Sink, type SinkHandler } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
const sinks: Sink[] = [];
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

async function sink(handler?: SinkHandler) {
  const started = await new Sink(handler).start();
  sinks.push(started);
  return started;
}

/** A sink whose first request is held until `release()`: the backlog behind it is claimed meanwhile. */
async function heldSink() {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const target: Sink = await sink((_req, _body, arrival) => ({ status: 200, after: arrival === target.arrivals[0] ? held : undefined }));
  return { target, release };
}

const base = (extra: Record<string, unknown> = {}) => ({ network: { allowPrivate: true }, ...extra });
const paths = (target: Sink) => target.arrivals.map((arrival) => arrival.url);

async function post(path: string, body: unknown) {
  const response = await sluice!.api('POST', path, body);
  expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
  return response.body;
}

describe('push priorities', () => {
  it('an urgent message goes next, ahead of a backlog already claimed from the same queue', async () => {
    const { target, release } = await heldSink();
    sluice = await startSluice(base({ limits: { domains: { [target.domain]: { concurrency: 1 } } } }));
    await post('/v1/messages/batch', { messages: Array.from({ length: 30 }, (_, i) => ({ url: `${target.origin}/low/${i}`, priority: 1 })) });
    await eventually(() => target.arrivals.length === 1, 'the first low message in flight');
    await eventually(async () => (await sluice!.api('GET', '/v1/queues/outbound')).body.depth.inflight > 1, 'the backlog claimed into the lane');
    const urgent = await post('/v1/messages', { url: `${target.origin}/urgent`, priority: 9 });
    await eventually(async () => (await sluice!.api('GET', `/v1/messages/${urgent.id}`)).body.state === 'inflight', 'the urgent message claimed');
    release();
    await eventually(() => target.arrivals.length === 31, 'every delivery');
    expect(paths(target).slice(0, 3)).toEqual(['/low/0', '/urgent', '/low/1']);
    expect(paths(target).slice(2)).toEqual(Array.from({ length: 29 }, (_, i) => `/low/${i + 1}`));
  });

  it('across queues feeding one domain, the most urgent head goes first; equal priorities keep FIFO', async () => {
    const { target, release } = await heldSink();
    sluice = await startSluice(
      base({
        queues: { reminders: { mode: 'push', priority: 1 }, payments: { mode: 'push', priority: 8 } },
        limits: { domains: { [target.domain]: { concurrency: 1 } } },
      }),
    );
    await post('/v1/messages/batch', { messages: Array.from({ length: 20 }, (_, i) => ({ url: `${target.origin}/r/${i}`, queue: 'reminders' })) });
    await eventually(() => target.arrivals.length === 1, 'the first reminder in flight');
    await post('/v1/messages/batch', { messages: [0, 1, 2].map((i) => ({ url: `${target.origin}/p/${i}`, queue: 'payments' })) });
    await eventually(async () => (await sluice!.api('GET', '/v1/queues/payments')).body.depth.inflight > 0, 'the payments claimed');
    release();
    await eventually(() => target.arrivals.length === 23, 'every delivery');
    expect(paths(target).slice(0, 5)).toEqual(['/r/0', '/p/0', '/p/1', '/p/2', '/r/1']);
  });

  it('a tenant marking everything 9 does not starve another tenant on the same domain', async () => {
    const { target, release } = await heldSink();
    sluice = await startSluice(
      base({
        queues: { loud: { mode: 'push', tenant: 'loud' }, quiet: { mode: 'push', tenant: 'quiet' } },
        limits: { domains: { [target.domain]: { concurrency: 1 } } },
      }),
    );
    const batch = (queue: string, priority: number) => Array.from({ length: 30 }, (_, i) => ({ url: `${target.origin}/${queue}/${i}`, queue, priority }));
    await post('/v1/messages/batch', { messages: batch('loud', 9) });
    await post('/v1/messages/batch', { messages: batch('quiet', 0) });
    await eventually(async () => (await sluice!.api('GET', '/v1/queues/quiet')).body.depth.inflight > 0, "the quiet tenant's claim");
    release();
    await eventually(() => target.arrivals.length === 60, 'every delivery');
    const first20 = paths(target).slice(1, 21).map((path) => path.split('/')[1]);
    expect(first20.filter((queue) => queue === 'quiet').length).toBeGreaterThanOrEqual(9);
  });

  it('stamps the queue default on messages that name none: ingest, API and schedules', async () => {
    const target = await sink();
    sluice = await startSluice(
      base({
        queues: { hot: { mode: 'push', url: `${target.origin}/hot`, priority: 8 }, inbox: { mode: 'pull', priority: 2 } },
        sources: { s: { queue: 'inbox' } },
      }),
    );
    const own = await post('/v1/messages', { queue: 'hot', deliverAt: Date.now() + 3_600_000 });
    const given = await post('/v1/messages', { queue: 'hot', priority: 3, deliverAt: Date.now() + 3_600_000 });
    expect((await sluice.api('GET', `/v1/messages/${own.id}`)).body.priority).toBe(8);
    expect((await sluice.api('GET', `/v1/messages/${given.id}`)).body.priority).toBe(3);
    const ingested = (await (await fetch(`${sluice.url}/in/s`, { method: 'POST', body: '{}' })).json()) as { id: string };
    expect((await sluice.api('GET', `/v1/messages/${ingested.id}`)).body.priority).toBe(2);
    const pulled = await post('/v1/queues/inbox/pull', { max: 1 });
    expect(pulled.messages[0].priority).toBe(2);
  });

  it('refuses a priority out of 0-9 or not an integer, naming the field, and stores nothing', async () => {
    const target = await sink();
    sluice = await startSluice(base());
    for (const priority of [10, -1, 2.5, '9', null]) {
      const one = await sluice.api('POST', '/v1/messages', { url: `${target.origin}/x`, priority });
      expect(one.status).toBe(400);
      expect(one.body.code).toBe('SLUICE_ERR_VALIDATION');
      expect(JSON.stringify(one.body.errors)).toContain('priority');
    }
    const batch = await sluice.api('POST', '/v1/messages/batch', { messages: [{ url: `${target.origin}/a` }, { url: `${target.origin}/b`, priority: 12 }] });
    expect(batch.status).toBe(400);
    expect(JSON.stringify(batch.body.errors)).toContain('messages.1.priority');
    const queue = await sluice.api('PUT', '/v1/queues/q', { mode: 'push', priority: 11 });
    expect(queue.status).toBe(400);
    expect(JSON.stringify(queue.body.errors)).toContain('priority');
    const schedule = await sluice.api('POST', '/v1/schedules', { name: 's', cron: '* * * * *', message: { url: `${target.origin}/s`, priority: 'high' } });
    expect(schedule.status).toBe(400);
    expect(JSON.stringify(schedule.body.errors)).toContain('message.priority');
    expect((await sluice.api('GET', '/v1/messages?limit=10')).body.messages).toEqual([]);
  });
});

describe('pull priorities through the API', () => {
  it('leases the most urgent first, FIFO within a priority', async () => {
    sluice = await startSluice({ queues: { jobs: { mode: 'pull' } }, sources: { jobs: { queue: 'jobs' } } });
    // Messages into a pull queue come from sources (the queue's priority) or replays; here three
    // sources-fed messages at the default, then a queue change raises the priority of what follows.
    for (const body of ['a', 'b']) await fetch(`${sluice.url}/in/jobs`, { method: 'POST', body });
    await sluice.api('PUT', '/v1/queues/jobs', { mode: 'pull', priority: 9 });
    await fetch(`${sluice.url}/in/jobs`, { method: 'POST', body: 'urgent' });
    const pulled = await post('/v1/queues/jobs/pull', { max: 10 });
    expect(pulled.messages.map((message: { body: string }) => message.body)).toEqual(['urgent', 'a', 'b']);
  });
});
