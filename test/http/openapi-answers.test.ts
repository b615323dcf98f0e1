import { afterEach, describe, expect, it } from 'vitest';
import { DocumentSchemas, describeErrors, type OpenApiDocument } from '../support/openapi.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
  sluice = undefined;
  sink = undefined;
});

/**
 * Sends requests and holds every answer to the document: the status must be one it lists for the
 * route, the media type one it lists for that status, and a JSON body must match its schema.
 * Remembers which operations have answered 2xx, so a test can require that all of them did.
 */
class DocumentedCalls {
  readonly answered = new Set<string>();

  constructor(
    private readonly url: string,
    private readonly schemas: DocumentSchemas,
    private readonly adminKey: string,
  ) {}

  async call(method: string, path: string, body?: unknown, options: { key?: string | null; raw?: string } = {}): Promise<{ status: number; body: any }> {
    const key = options.key === undefined ? this.adminKey : options.key;
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload = options.raw;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const abort = new AbortController();
    const response = await fetch(`${this.url}${path}`, { method, headers, body: payload, signal: abort.signal });
    const type = response.headers.get('content-type') ?? '';
    let text = '';
    if (type.startsWith('text/event-stream')) abort.abort();
    else text = await response.text();
    const parsed = /json/.test(type) ? JSON.parse(text) : text;
    this.check(method, path.split('?')[0]!, response.status, type, parsed);
    return { status: response.status, body: parsed };
  }

  private check(method: string, path: string, status: number, type: string, body: unknown): void {
    const where = `${method} ${path} → ${status}`;
    const found = this.schemas.operationFor(method, path);
    if (!found) throw new Error(`${method} ${path} is not in the document`);
    // `default` stands for the errors any route may answer (500, 503); every other status must be listed.
    const statusKey = found.operation.responses[String(status)] ? String(status) : status === 500 || status === 503 ? 'default' : undefined;
    expect(statusKey, `${where}: a status the document does not list`).toBeDefined();
    const response = found.operation.responses[statusKey!]!;
    if (!response.content) {
      expect(body, `${where}: the document says no body`).toBe('');
    } else {
      const mediaType = Object.keys(response.content).find((listed) => listed.split(';')[0] === type.split(';')[0]);
      expect(mediaType, `${where}: ${type} is not among ${Object.keys(response.content).join(', ')}`).toBeDefined();
      if (/json/.test(type)) {
        const validate = this.schemas.at('paths', found.template, method.toLowerCase(), 'responses', statusKey!, 'content', mediaType!, 'schema');
        expect(validate(body), `${where}: ${describeErrors(validate)}\n${JSON.stringify(body)}`).toBe(true);
      }
    }
    if (status < 300) this.answered.add(`${method} ${found.template}`);
  }
}

describe('answers match the OpenAPI document', () => {
  it('every route answers 2xx with a body its documented schema takes, and its errors as documented', { timeout: 60_000 }, async () => {
    sink = await new Sink(() => ({ status: 200, body: 'ok' })).start();
    sluice = await startSluice({
      network: { allowPrivate: true },
      queues: { inbox: { mode: 'pull' }, jobs: { mode: 'pull', maxReceives: 1 } },
      sources: {
        hooks: { queue: 'inbox' },
        'jobs-in': { queue: 'jobs' },
        meta: { queue: 'inbox', handshake: { type: 'meta', verifyToken: 'tok' } },
      },
    });
    const document = (await (await fetch(`${sluice.url}/openapi.json`)).json()) as OpenApiDocument;
    const api = new DocumentedCalls(sluice.url, new DocumentSchemas(document), sluice.key);

    // Reference, health, pages.
    await api.call('GET', '/openapi.json', undefined, { key: null });
    await api.call('GET', '/docs', undefined, { key: null });
    await api.call('GET', '/dashboard', undefined, { key: null });
    await api.call('GET', '/healthz', undefined, { key: null });
    await api.call('GET', '/readyz', undefined, { key: null });

    // Ingest and pull.
    for (const method of ['POST', 'PUT', 'PATCH']) expect((await api.call(method, '/in/hooks?a=1', undefined, { key: null, raw: 'hello' })).status).toBe(202);
    expect((await api.call('GET', '/in/meta?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=abc', undefined, { key: null })).body).toBe('abc');
    expect((await api.call('GET', '/in/hooks', undefined, { key: null })).status).toBe(405);
    const pulled = await api.call('POST', '/v1/queues/inbox/pull', { max: 2 });
    expect(pulled.body.messages).toHaveLength(2);
    const [first, second] = pulled.body.messages.map((message: { receipt: string }) => message.receipt);
    await api.call('POST', '/v1/queues/inbox/extend', { receipts: [first], visibilityTimeoutMs: 60_000 });
    await api.call('POST', '/v1/queues/inbox/ack', { receipts: [first] });
    await api.call('POST', '/v1/queues/inbox/nack', { receipts: [second] });
    await api.call('POST', '/v1/queues/inbox/pull', { waitMs: 5 }, { key: null });
    await api.call('POST', '/v1/queues/outbound/pull', {});

    // Queues and dead letters.
    await api.call('POST', '/in/jobs-in', undefined, { key: null, raw: 'will die' });
    const job = await api.call('POST', '/v1/queues/jobs/pull', {});
    await api.call('POST', '/v1/queues/jobs/nack', { receipts: [job.body.messages[0].receipt] });
    expect((await api.call('GET', '/v1/queues/jobs/dead?limit=10')).body.messages).toHaveLength(1);
    expect((await api.call('POST', '/v1/queues/jobs/dead/replay', {})).body.replayed).toBe(1);
    await api.call('GET', '/v1/queues/jobs/dead?cursor=bad');
    await api.call('POST', '/v1/queues/jobs/pause');
    await api.call('POST', '/v1/queues/jobs/resume');
    expect((await api.call('PUT', '/v1/queues/out', { mode: 'push', url: `${sink.origin}/hook`, retry: { maxAttempts: 2 } })).status).toBe(201);
    expect((await api.call('PUT', '/v1/queues/out', { mode: 'push', url: `${sink.origin}/hook`, signingSecret: 'whsec_c2VjcmV0' })).status).toBe(200);
    await api.call('GET', '/v1/queues');
    await api.call('GET', '/v1/queues/out');
    await api.call('GET', '/v1/queues/nope');
    await api.call('DELETE', '/v1/queues/jobs');

    // Outbound messages.
    const sent = await api.call('POST', '/v1/messages', { queue: 'out', body: { a: 1 }, idempotencyKey: 'once' });
    expect((await api.call('POST', '/v1/messages', { queue: 'out', body: { a: 1 }, idempotencyKey: 'once' })).status).toBe(200);
    await api.call('POST', '/v1/messages/batch', { messages: [{ queue: 'out', body: 'x' }, { queue: 'out', delayMs: 3_600_000 }] });
    await api.call('POST', '/v1/messages', { queue: 'out', nope: true });
    await api.call('POST', '/v1/messages', undefined, { raw: '{"queue":' });
    await eventually(() => sink!.arrivals.length >= 2, 'deliveries');
    await eventually(async () => (await sluice!.api('GET', `/v1/messages/${sent.body.id}`)).body.state === 'delivered', 'delivered');
    expect((await api.call('GET', `/v1/messages/${sent.body.id}`)).body.attempts).toHaveLength(1);
    await api.call('GET', '/v1/messages?queue=out&state=delivered&limit=1');
    await api.call('GET', '/v1/messages');
    const later = await api.call('POST', '/v1/messages', { queue: 'out', bodyBase64: 'AAEC', delayMs: 3_600_000 });
    await api.call('DELETE', `/v1/messages/${later.body.id}`);
    expect((await api.call('DELETE', `/v1/messages/${sent.body.id}`)).status).toBe(409);
    await api.call('GET', '/v1/messages/999999');

    // Schedules.
    await api.call('POST', '/v1/schedules', { name: 'tick', every: '1h', message: { queue: 'out', headers: { 'x-a': 'b' } } });
    await api.call('POST', '/v1/schedules', { name: 'tock', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', message: { queue: 'out', body: 'hi' } });
    await api.call('GET', '/v1/schedules');
    await api.call('GET', '/v1/schedules/tick');
    await api.call('PATCH', '/v1/schedules/tick', { paused: true });
    await api.call('DELETE', '/v1/schedules/tick');
    await api.call('DELETE', '/v1/schedules/tock');
    await api.call('DELETE', '/v1/queues/out?force=true');

    // Sources, and the dry run with a nested explanation.
    const when = { any: [{ path: 'body.a', op: 'eq', value: 1 }, { not: { path: 'headers.x-b', op: 'exists' } }] };
    expect((await api.call('PUT', '/v1/sources/routed', { routes: [{ name: 'a', queue: 'inbox', when }, { queue: 'inbox' }], fallback: 'inbox' })).status).toBe(201);
    const guarded = { queue: 'inbox', verify: { type: 'token', secret: 'tok', query: 'token' }, response: { status: 200, headers: { 'x-a': 'b' } } };
    expect((await api.call('PUT', '/v1/sources/guarded', guarded)).status).toBe(201);
    expect((await api.call('PUT', '/v1/sources/routed', { routes: [{ name: 'a', queue: 'inbox', when }], first: true })).status).toBe(200);
    expect((await api.call('GET', '/v1/sources')).body.sources).toHaveLength(5);
    await api.call('GET', '/v1/sources/routed');
    expect((await api.call('POST', '/v1/sources/routed/test', { headers: { 'x-b': '1' }, body: { a: 1 } })).body.routes[0].why.parts).toHaveLength(2);
    await api.call('POST', '/v1/sources/routed/test', { method: 'PUT', path: '/x', query: { q: ['1', '2'] }, body: 'not json' });
    await api.call('POST', '/v1/sources/hooks/test', {});
    expect((await api.call('PUT', '/v1/sources/hooks', { queue: 'inbox' })).status).toBe(409);
    expect((await api.call('PUT', '/v1/sources/bad', { queue: 'nope' })).status).toBe(400);
    await api.call('GET', '/v1/sources/nope');
    await api.call('DELETE', '/v1/sources/guarded');
    await api.call('DELETE', '/v1/sources/routed');

    // The vault and templates: a message made from a template, its secret filled when it is sent.
    expect((await api.call('PUT', '/v1/secrets/api_token', { value: 'tok_0123456789' })).status).toBe(204);
    await api.call('PUT', '/v1/secrets/api_token', { value: 5 });
    await api.call('GET', '/v1/secrets');
    await api.call('GET', '/v1/secrets/api_token');
    await api.call('GET', '/v1/secrets/nope');
    const template = { url: `${sink.origin}/t/{{ vars.id }}`, headers: { authorization: 'Bearer {{ secrets.api_token }}' }, body: { id: '{{ vars.id }}' } };
    expect((await api.call('PUT', '/v1/templates/call', template)).status).toBe(201);
    expect((await api.call('PUT', '/v1/templates/call', template)).status).toBe(200);
    await api.call('PUT', '/v1/templates/bad', { url: 'https://{{ secrets.api_token }}/' });
    await api.call('GET', '/v1/templates');
    await api.call('GET', '/v1/templates/call');
    await api.call('GET', '/v1/templates/nope');
    const made = await api.call('POST', '/v1/messages', { template: 'call', vars: { id: 7 }, delayMs: 3_600_000 });
    expect((await api.call('GET', `/v1/messages/${made.body.id}`)).body.secrets).toEqual(['api_token']);
    await api.call('POST', '/v1/messages', { template: 'call', vars: {} });
    await api.call('POST', '/v1/messages/batch', { messages: [{ template: 'call', vars: { id: 8 }, delayMs: 3_600_000 }] });
    expect((await api.call('POST', '/v1/secrets/rotate-key')).body.resealed).toBe(1);
    await api.call('DELETE', `/v1/messages/${made.body.id}`);
    await api.call('DELETE', '/v1/templates/call');
    await api.call('DELETE', '/v1/secrets/api_token');

    // Workflows and their runs: one step answered, the next waiting an hour until the run is cancelled.
    const steps = [
      { name: 'ping', request: { url: `${sink.origin}/w/{{ vars.n }}`, body: { n: '{{ vars.n }}' } } },
      { name: 'later', delayMs: 3_600_000, request: { url: `${sink.origin}/later` } },
    ];
    expect((await api.call('PUT', '/v1/workflows/flow', { steps })).status).toBe(201);
    expect((await api.call('PUT', '/v1/workflows/flow', { steps, priority: 3 })).status).toBe(200);
    expect((await api.call('PUT', '/v1/workflows/bad', { steps: [{ name: 'a', onSuccess: 'nowhere', request: {} }] })).status).toBe(400);
    await api.call('GET', '/v1/workflows');
    await api.call('GET', '/v1/workflows/flow');
    await api.call('GET', '/v1/workflows/nope');
    const run = await api.call('POST', '/v1/workflows/flow/runs', { vars: { n: 1 }, idempotencyKey: 'run-1' });
    expect((await api.call('POST', '/v1/workflows/flow/runs', { vars: { n: 1 }, idempotencyKey: 'run-1' })).status).toBe(200);
    await api.call('POST', '/v1/workflows/nope/runs', {});
    await eventually(async () => (await sluice!.api('GET', `/v1/workflows/runs/${run.body.id}`)).body.steps.length === 2, 'the first step answered');
    expect((await api.call('GET', `/v1/workflows/runs/${run.body.id}`)).body.steps[0].response.status).toBe(200);
    expect((await api.call('GET', '/v1/workflows/flow/runs?state=running&limit=1')).body.runs).toHaveLength(1);
    expect((await api.call('GET', '/v1/workflows/flow/runs?state=lost&cursor=bad')).status).toBe(400);
    await api.call('GET', '/v1/workflows/runs/999999');
    await api.call('DELETE', `/v1/workflows/runs/${run.body.id}`);
    expect((await api.call('DELETE', `/v1/workflows/runs/${run.body.id}`)).status).toBe(409);
    await api.call('DELETE', '/v1/workflows/flow');

    // Limits and tenants, with a tenant key where the answer differs.
    await api.call('PUT', `/v1/limits/domains/${sink.domain}`, { concurrency: 2, ratePerSecond: 5, burst: 2 });
    await api.call('GET', '/v1/limits/domains');
    await api.call('GET', `/v1/limits/domains/${sink.domain}`);
    await api.call('DELETE', `/v1/limits/domains/${sink.domain}`);
    await api.call('POST', '/v1/tenants', { name: 'acme', concurrency: 4 });
    await api.call('POST', '/v1/tenants', { name: 'acme' });
    await api.call('PUT', '/v1/limits/tenants/acme', { concurrency: 3 });
    await api.call('GET', '/v1/tenants');
    const key = await api.call('POST', '/v1/tenants/acme/keys');
    await api.call('GET', '/v1/tenants/acme/keys');
    await api.call('GET', '/v1/limits/tenants');
    await api.call('GET', '/v1/limits/tenants', undefined, { key: key.body.key });
    await api.call('GET', '/v1/queues', undefined, { key: key.body.key });
    await api.call('PUT', '/v1/limits/domains/example.com', { concurrency: 1 }, { key: key.body.key });
    await api.call('DELETE', `/v1/tenants/acme/keys/${key.body.id}`);

    // Monitoring.
    await api.call('GET', '/v1/stats');
    await api.call('GET', '/v1/stats', undefined, { key: null });
    await api.call('GET', '/v1/stats/stream');
    await api.call('GET', '/metrics');

    const all = Object.entries(document.paths).flatMap(([path, byMethod]) => Object.keys(byMethod).map((method) => `${method.toUpperCase()} ${path}`));
    expect(all.filter((operation) => !api.answered.has(operation)), 'operations this test never saw answer 2xx: add a call for each').toEqual([]);
  });
});
