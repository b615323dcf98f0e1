import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceClient } from '../../src/client/client.js';
import { SluiceApiError } from '../../src/client/errors.js';
import type { StatsStreamEvent } from '../../src/client/types.js';
import { startSluice, type RunningSluice } from '../../src/server.js';
import { Sink } from '../support/sink.js';
import { eventually } from '../support/sluice.js';

/**
 * Every method of the client against a real node on 127.0.0.1, started through `sluice/server`:
 * each hits its route and gets the documented shape. Names are distinct per test: one node serves
 * the whole file.
 */
let sluice: RunningSluice;
let client: SluiceClient;
let sink: Sink;

beforeAll(async () => {
  sink = await new Sink((req) => (req.url?.startsWith('/fail') ? { status: 400, body: 'refused' } : { status: 200, body: 'ok' })).start();
  sluice = await startSluice({
    config: {
      log: { level: 'silent' },
      network: { allowPrivate: true },
      queues: {
        jobs: { mode: 'pull' },
        tiny: { mode: 'pull', maxDepth: 1 },
        hooks: { mode: 'push', url: `${sink.origin}/hook` },
      },
      sources: { shop: { queue: 'jobs' }, tiny: { queue: 'tiny' } },
    },
  });
  client = sluice.client;
});
afterAll(async () => {
  await sluice?.stop();
  await sink?.stop();
});

/** The error a call rejects with; fails the test when it resolves. */
async function apiError(call: Promise<unknown>): Promise<SluiceApiError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SluiceApiError);
  return error as SluiceApiError;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('SluiceClient', () => {
  it('health and ready', async () => {
    expect(await client.health()).toEqual({ status: 'ok', version: expect.any(String) });
    expect(await client.ready()).toEqual({ status: 'ready' });
  });

  it('ingest, then pull, extend, nack and ack by receipt', async () => {
    const ingested = await client.ingest('shop', '{"order":1}', { headers: { 'content-type': 'application/json' }, path: '/orders/created', query: { shop: 'a' } });
    expect(ingested).toEqual({ status: 202, id: expect.any(String), body: expect.stringContaining(ingested.id!) });

    const first = await client.pull('jobs', { max: 10, waitMs: 2000, visibilityTimeoutMs: 5000 });
    expect(first.messages).toHaveLength(1);
    const [message] = first.messages;
    expect(message).toEqual({
      id: ingested.id,
      receipt: expect.any(String),
      attempt: 1,
      receivedAt: expect.stringMatching(ISO),
      method: 'POST',
      path: '/orders/created',
      query: 'shop=a',
      headers: expect.objectContaining({ 'content-type': 'application/json' }),
      contentType: 'application/json',
      priority: 5,
      body: '{"order":1}',
    });

    expect(await client.extend('jobs', [message!.receipt], 60_000)).toEqual({ extended: 1, stale: [] });
    expect(await client.nack('jobs', [message!.receipt])).toEqual({ requeued: 1, dead: [], stale: [] });
    const again = await client.pull('jobs', { waitMs: 2000 });
    expect(again.messages.map((m) => [m.id, m.attempt])).toEqual([[ingested.id, 2]]);
    const receipt = again.messages[0]!.receipt;
    expect(await client.ack('jobs', [receipt])).toEqual({ acked: 1, stale: [] });
    expect(await client.ack('jobs', [receipt])).toEqual({ acked: 0, stale: [receipt] });
  });

  it('send, get, list with a cursor, cancel; a batch with an idempotency key', async () => {
    const sent = await client.send({ queue: 'hooks', body: { kind: 'later' }, delayMs: 3_600_000 });
    expect(sent).toEqual({ id: expect.any(String), deliverAt: expect.stringMatching(ISO), state: 'scheduled' });

    const stored = await client.getMessage(sent.id);
    expect(stored).toMatchObject({ id: sent.id, queue: 'hooks', tenant: 'default', state: 'scheduled', method: 'POST', path: '/hook', url: `${sink.origin}/hook` });
    expect(stored).toMatchObject({ domain: sink.domain, contentType: 'application/json', body: '{"kind":"later"}', attemptCount: 0, origin: 'api', attempts: [] });

    const batch = await client.sendBatch([
      { queue: 'hooks', delayMs: 3_600_000, idempotencyKey: 'client-test-1' },
      { queue: 'hooks', delayMs: 3_600_000, idempotencyKey: 'client-test-1' },
    ]);
    expect(batch.messages.map((m) => [m.state, m.duplicate])).toEqual([
      ['scheduled', false],
      ['scheduled', true],
    ]);
    expect(batch.messages[1]!.id).toBe(batch.messages[0]!.id);

    const page = await client.listMessages({ queue: 'hooks', state: 'scheduled', limit: 1 });
    expect(page.messages.map((m) => m.id)).toEqual([batch.messages[0]!.id]);
    expect(page.nextCursor).toBe(batch.messages[0]!.id);
    const next = await client.listMessages({ queue: 'hooks', state: 'scheduled', limit: 1, cursor: page.nextCursor! });
    expect(next.messages.map((m) => m.id)).toEqual([sent.id]);

    expect(await client.cancelMessage(sent.id)).toEqual({ id: sent.id, state: 'cancelled' });
    expect(await client.cancelMessage(sent.id)).toEqual({ id: sent.id, state: 'cancelled' });
  });

  it('a delivered message shows its attempts, and cannot be cancelled', async () => {
    const sent = await client.send({ url: `${sink.origin}/delivered`, body: 'plain text', headers: { 'content-type': 'text/plain' } });
    const delivered = await eventually(async () => {
      const message = await client.getMessage(sent.id);
      return message.state === 'delivered' ? message : undefined;
    }, 'delivery');
    expect(delivered.attempts).toEqual([{ attempt: 1, at: expect.stringMatching(ISO), status: 200, latencyMs: expect.any(Number), error: null, response: 'ok' }]);

    const refused = await apiError(client.cancelMessage(sent.id));
    expect(refused).toMatchObject({ status: 409, code: 'SLUICE_ERR_CONFLICT', retryAfter: undefined });
    expect(refused.problem?.state).toBe('delivered');
    expect(refused.detail).toMatch(/can no longer be cancelled/);
  });

  it('queues: put, get, list, pause, resume, delete (409 while messages wait, then with force)', async () => {
    const made = await client.putQueue('client-push', { mode: 'push', url: `${sink.origin}/q`, maxDepth: 100 });
    expect(made).toMatchObject({ name: 'client-push', mode: 'push', tenant: 'default', url: `${sink.origin}/q`, maxDepth: 100, paused: false, signing: false });
    expect(made.retry).toEqual({ maxAttempts: 12, initialMs: 1000, maxMs: 3_600_000, multiplier: 2 });

    const seen = await client.getQueue('client-push');
    expect(seen).toMatchObject({ name: 'client-push', inFlight: 0, dead: 0, oldestReadyAgeMs: null });
    expect((await client.queues()).queues.map((q) => q.name)).toEqual(expect.arrayContaining(['client-push', 'jobs', 'hooks', 'outbound']));

    expect((await client.pauseQueue('client-push')).paused).toBe(true);
    expect((await client.resumeQueue('client-push')).paused).toBe(false);

    await client.send({ queue: 'client-push', delayMs: 3_600_000 });
    const held = await apiError(client.deleteQueue('client-push'));
    expect(held).toMatchObject({ status: 409, code: 'SLUICE_ERR_CONFLICT' });
    expect(held.problem?.pending).toBe(1);
    expect(await client.deleteQueue('client-push', true)).toEqual({ name: 'client-push', deleted: true, messages: 1 });
    expect((await apiError(client.getQueue('client-push'))).code).toBe('SLUICE_ERR_QUEUE_NOT_FOUND');
  });

  it('dead letters: list and replay', async () => {
    await client.putQueue('client-dead', { mode: 'push', url: `${sink.origin}/fail` });
    const sent = await client.send({ queue: 'client-dead', body: 'x' });
    await eventually(async () => (await client.getMessage(sent.id)).state === 'dead', 'dead letter');

    const dead = await client.listDead('client-dead');
    expect(dead).toEqual({ messages: [expect.objectContaining({ id: sent.id, state: 'dead', lastError: expect.any(String) })], nextCursor: null });
    expect(await client.replayDead('client-dead', [sent.id])).toEqual({ replayed: 1, ids: [sent.id] });
    await eventually(async () => (await client.getMessage(sent.id)).attempts.length === 2, 'the replayed attempt');
  });

  it('schedules: add, list, get with next runs, update, pause, resume, delete', async () => {
    const added = await client.addSchedule({ name: 'client-every', every: '1h', message: { queue: 'hooks', body: { tick: true } } });
    expect(added).toMatchObject({ name: 'client-every', every: '1h', timezone: 'UTC', missed: 'once', paused: false, tenant: 'default', lastRunAt: null });
    expect(added.message).toEqual({ method: 'POST', headers: {}, body: { tick: true }, queue: 'hooks' });
    expect(added.nextRunAt).toMatch(ISO);
    expect(added.nextRuns).toHaveLength(5);

    const listed = (await client.listSchedules()).schedules.find((s) => s.name === 'client-every');
    expect(listed).toMatchObject({ name: 'client-every', every: '1h' });
    expect(listed).not.toHaveProperty('nextRuns');

    const cron = await client.updateSchedule('client-every', { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' });
    expect(cron).toMatchObject({ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' });
    expect(cron).not.toHaveProperty('every');
    expect((await client.getSchedule('client-every')).nextRuns.every((at) => ISO.test(at))).toBe(true);

    expect(await client.pauseSchedule('client-every')).toMatchObject({ paused: true, nextRunAt: null });
    expect((await client.resumeSchedule('client-every')).nextRunAt).toMatch(ISO);
    await client.deleteSchedule('client-every');
    expect(await apiError(client.getSchedule('client-every'))).toMatchObject({ status: 404, code: 'SLUICE_ERR_SCHEDULE_NOT_FOUND' });
  });

  it('sources: put, get, list, test, delete; the file\'s source is shown, and changed only in the file', async () => {
    const made = await client.putSource('client-src', {
      routes: [{ name: 'orders', queue: 'jobs', when: { path: 'body.kind', op: 'in', value: ['order', 'refund'] } }],
      first: true,
    });
    expect(made).toEqual({
      name: 'client-src',
      tenant: 'default',
      fromFile: false,
      config: { routes: [{ name: 'orders', queue: 'jobs', when: { path: 'body.kind', op: 'in', value: ['order', 'refund'] } }], first: true },
      counts: { routes: { orders: 0 }, fallback: 0, unrouted: 0 },
    });
    expect(await client.getSource('client-src')).toEqual(made);
    const listed = await client.listSources({ tenant: 'default' });
    expect(listed.sources.map((s) => [s.name, s.fromFile])).toEqual([['client-src', false], ['shop', true], ['tiny', true]]);
    const tested = await client.testSource('client-src', { body: { kind: 'refund' } });
    expect(tested).toEqual({
      routes: [{ index: 0, name: 'orders', queue: 'jobs', matched: true, selected: true, why: { result: true, path: 'body.kind', op: 'in', value: ['order', 'refund'], actual: 'refund' } }],
      first: true,
      targets: [{ route: 'orders', queue: 'jobs' }],
    });
    expect(await apiError(client.putSource('shop', { queue: 'jobs' }))).toMatchObject({ status: 409, code: 'SLUICE_ERR_SOURCE_IN_FILE' });
    const invalid = await apiError(client.putSource('client-src', { routes: [{ queue: 'nope' }] }));
    expect(invalid).toMatchObject({ status: 400, code: 'SLUICE_ERR_VALIDATION' });
    expect(invalid.problem?.errors).toEqual([{ field: 'routes.0.queue', message: 'no queue named nope' }]);
    await client.deleteSource('client-src');
    expect(await apiError(client.getSource('client-src'))).toMatchObject({ status: 404, code: 'SLUICE_ERR_SOURCE_NOT_FOUND' });
  });

  it('domain and tenant limits', async () => {
    expect(await client.setDomainLimit('api.client-test.example', { concurrency: 5, ratePerSecond: 10, burst: 5 })).toEqual({
      host: 'api.client-test.example',
      concurrency: 5,
      ratePerSecond: 10,
      burst: 5,
    });
    const all = await client.listDomainLimits();
    expect(all.default).toEqual({ concurrency: 10 });
    expect(all.domains).toContainEqual({ host: 'api.client-test.example', concurrency: 5, ratePerSecond: 10, burst: 5 });
    expect(await client.getDomainLimit('api.client-test.example')).toEqual({
      host: 'api.client-test.example',
      concurrency: 5,
      ratePerSecond: 10,
      burst: 5,
      effective: { concurrency: 5, ratePerSecond: 10, burst: 5 },
    });
    await client.deleteDomainLimit('api.client-test.example');
    expect((await apiError(client.getDomainLimit('api.client-test.example'))).status).toBe(404);

    expect(await client.setTenantLimit('default', { concurrency: 7 })).toEqual({ tenant: 'default', concurrency: 7 });
    expect((await client.listTenantLimits()).tenants).toContainEqual({ tenant: 'default', inFlight: expect.any(Number), concurrency: 7, maxDepth: null, depth: expect.any(Number), maxStoredBytes: null, storedBytes: expect.any(Number) });
  });

  it('secrets and templates: put, list, get, send from a template, rotate the key, delete', async () => {
    await client.putSecret('client_token', 'tok_client_0123456789');
    expect(await client.listSecrets({ tenant: 'default' })).toEqual({ secrets: [{ name: 'client_token', tenant: 'default', createdAt: expect.stringMatching(ISO), updatedAt: expect.stringMatching(ISO), keyVersion: expect.any(String) }] });
    expect((await client.getSecret('client_token')).name).toBe('client_token');
    const template = await client.putTemplate('client-call', { url: `${sink.origin}/templated/{{ vars.id }}`, headers: { authorization: 'Bearer {{ secrets.client_token }}' }, body: { id: '{{ vars.id }}' } });
    expect(template).toMatchObject({ name: 'client-call', tenant: 'default', fromFile: false, vars: ['id'], secrets: ['client_token'], config: { method: 'POST' } });
    expect((await client.listTemplates()).templates.map((t) => t.name)).toContain('client-call');
    expect((await client.getTemplate('client-call')).secrets).toEqual(['client_token']);
    const sent = await client.send({ template: 'client-call', vars: { id: 'a b' } });
    const batch = await client.sendBatch([{ template: 'client-call', vars: { id: 2 }, delayMs: 3_600_000 }], { tenant: 'default' });
    expect(batch.messages).toHaveLength(1);
    await eventually(() => sink.arrivals.some((arrival) => arrival.url === '/templated/a%20b'), 'the templated delivery');
    expect(sink.arrivals.find((arrival) => arrival.url === '/templated/a%20b')!.headers.authorization).toBe('Bearer tok_client_0123456789');
    expect((await client.getMessage(sent.id)).secrets).toEqual(['client_token']);
    const rotation = await client.rotateSecretKey();
    expect(rotation).toMatchObject({ generated: true, resealed: 1, remaining: 0 });
    const missing = await apiError(client.send({ template: 'client-call', vars: {} }));
    expect(missing.problem?.errors?.[0]?.field).toBe('vars.id');
    await client.cancelMessage(batch.messages[0]!.id);
    await client.deleteTemplate('client-call');
    await client.deleteSecret('client_token');
    expect((await apiError(client.getSecret('client_token'))).code).toBe('SLUICE_ERR_SECRET_NOT_FOUND');
  });

  it('tenants and keys: create, list, use, revoke', async () => {
    expect(await client.createTenant('client-acme', { concurrency: 3 })).toEqual({ name: 'client-acme', concurrency: 3, defaultQueue: 'outbound.client-acme' });
    expect((await client.listTenants()).tenants).toContainEqual({ name: 'client-acme', concurrency: 3, createdAt: expect.any(Number) });

    const created = await client.createKey('client-acme');
    expect(created).toEqual({ tenant: 'client-acme', id: expect.stringMatching(/^key_/), prefix: created.key.slice(0, 7), key: expect.any(String), note: expect.any(String) });
    const acme = new SluiceClient({ url: sluice.url, key: created.key });
    expect((await acme.queues()).queues.map((q) => q.name)).toEqual(['outbound.client-acme']);

    const keys = await client.listKeys('client-acme');
    expect(keys.keys).toEqual([{ id: created.id, prefix: created.prefix, createdAt: expect.stringMatching(ISO), lastUsedAt: expect.stringMatching(ISO) }]);
    await client.revokeKey('client-acme', created.id);
    expect(await apiError(acme.queues())).toMatchObject({ status: 401, code: 'SLUICE_ERR_UNAUTHORIZED' });
  });

  it('stats, the stats stream as an async iterator, metrics', async () => {
    const stats = await client.stats();
    expect(stats).toMatchObject({ at: expect.stringMatching(ISO), scope: 'admin', domainsOmitted: 0, recentEvents: expect.any(Array) });
    expect(Object.keys(stats.totals).sort()).toEqual(['buffered', 'dead', 'delivered', 'failed', 'inFlight', 'ready', 'received', 'retried']);
    expect(stats.queues.find((q) => q.name === 'jobs')).toMatchObject({ tenant: 'default', mode: 'pull', paused: false });

    const frames: StatsStreamEvent[] = [];
    let sent: string | undefined;
    for await (const frame of client.streamStats()) {
      frames.push(frame);
      sent ??= (await client.send({ url: `${sink.origin}/fail/stream` })).id;
      if (frame.type === 'dead' && frame.data.id === sent) break;
    }
    expect(frames[0]).toMatchObject({ type: 'snapshot', data: { scope: 'admin', totals: expect.any(Object) } });
    expect(frames.at(-1)).toMatchObject({ type: 'dead', id: expect.any(String), data: { seq: expect.any(Number), at: expect.stringMatching(ISO), type: 'dead' } });

    expect(await client.metrics()).toMatch(/^# HELP sluice_/m);
  });

  it('ends the stats stream when its signal is aborted', async () => {
    const controller = new AbortController();
    let snapshots = 0;
    for await (const frame of client.streamStats({ signal: controller.signal })) {
      if (frame.type === 'snapshot') snapshots += 1;
      controller.abort();
    }
    expect(snapshots).toBe(1);
  });

  it('errors carry status, code, detail, field errors and Retry-After', async () => {
    const unauthorized = await apiError(new SluiceClient({ url: sluice.url, key: 'sk_wrong_key_0123456789' }).queues());
    expect(unauthorized).toMatchObject({ status: 401, code: 'SLUICE_ERR_UNAUTHORIZED', name: 'SluiceApiError' });

    const invalid = await apiError(client.setTenantLimit('default', { concurrency: -1 }));
    expect(invalid).toMatchObject({ status: 400, code: 'SLUICE_ERR_VALIDATION' });
    expect(invalid.problem?.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'concurrency' })]));
    expect(invalid.message).toContain('SLUICE_ERR_VALIDATION');

    await client.ingest('tiny', 'one');
    const full = await apiError(client.ingest('tiny', 'two'));
    expect(full).toMatchObject({ status: 503, code: 'SLUICE_ERR_QUEUE_FULL', retryAfter: 1 });
  });

  it('an answer that is not problem+json (a proxy in between) still becomes a SluiceApiError', async () => {
    const retryAt = new Date(Date.now() + 30_000).toUTCString();
    const proxied = new SluiceClient({
      url: 'http://sluice.invalid',
      fetch: async () => new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'retry-after': retryAt } }),
    });
    const error = await apiError(proxied.stats());
    expect(error).toMatchObject({ status: 502, code: undefined, detail: '<html>Bad Gateway</html>' });
    expect(error.retryAfter).toBeGreaterThanOrEqual(28);
    expect(error.retryAfter).toBeLessThanOrEqual(30);
  });

  it('refuses a url that is not http(s)', () => {
    expect(() => new SluiceClient({ url: 'localhost:7070' })).toThrow(/must start with http/);
  });
});
