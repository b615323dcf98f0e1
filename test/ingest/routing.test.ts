import Database from 'better-sqlite3';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
const sinks: Sink[] = [];
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

const pull = { mode: 'pull' };
const QUEUES = { billing: pull, audit: pull, rest: pull, github: pull };

/** The Stripe example: invoice events to billing, everything with a customer to audit, the rest to a fallback. */
const STRIPE_ROUTES = {
  routes: [
    { name: 'invoices', queue: 'billing', when: { path: 'body.type', op: 'prefix', value: 'invoice.' } },
    { queue: 'audit', when: { all: [{ path: 'body.data.object.customer', op: 'exists' }, { not: { path: 'headers.X-Test', op: 'eq', value: '1' } }] } },
  ],
  fallback: 'rest',
};

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${sluice!.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: response.status, body: (await response.json()) as { id: string | null; ids: string[] } };
}

const depth = (queue: string) => sluice!.app.queues.depth(queue);
const depths = () => Object.fromEntries(Object.keys(QUEUES).map((queue) => [queue, depth(queue)]));

function payloadRows(): number {
  const db = new Database(join(sluice!.dir, 'data', 'sluice.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM payloads').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('a source with routes', () => {
  it('fans out to every matching route, stores the body once, and answers with every id', async () => {
    sluice = await startSluice({ queues: QUEUES, sources: { stripe: STRIPE_ROUTES } });
    const event = JSON.stringify({ type: 'invoice.paid', data: { object: { customer: 'cus_1' } } });
    const answer = await post('/in/stripe/hooks?x=1', event);
    expect(answer.status).toBe(202);
    expect(answer.body.ids).toHaveLength(2);
    expect(answer.body.id).toBe(answer.body.ids[0]);
    await eventually(() => depth('billing') === 1 && depth('audit') === 1, 'the counts to show both messages');
    expect(depth('rest')).toBe(0);
    for (const id of answer.body.ids) {
      const stored = await sluice.app.store.getMessage(id);
      expect(stored?.body.toString()).toBe(event);
      expect(stored?.path).toBe('/hooks');
      expect(stored?.query).toBe('x=1');
      expect(stored?.origin).toBe('source:stripe');
    }
    expect(payloadRows()).toBe(1);
    const pulled = await sluice.api('POST', '/v1/queues/audit/pull', { max: 5 });
    expect(pulled.status).toBe(200);
    expect(pulled.body.messages.map((message: { id: string }) => message.id)).toEqual([answer.body.ids[1]]);
  });

  it('takes the fallback only when no route matched, and reads header names in any case', async () => {
    sluice = await startSluice({ queues: QUEUES, sources: { stripe: STRIPE_ROUTES } });
    // A customer event marked as a test: the audit route's `not` fails on the header (sent in lower case).
    const answer = await post('/in/stripe', JSON.stringify({ type: 'customer.created', data: { object: { customer: 'c' } } }), { 'x-test': '1' });
    expect(answer.status).toBe(202);
    expect(answer.body.ids).toHaveLength(1);
    expect((await sluice.app.store.getMessage(answer.body.id!))?.queue).toBe('rest');
    expect(sluice.app.sources.countsOf('stripe')).toEqual({ routes: { invoices: 0, '1': 0 }, fallback: 1, unrouted: 0 });
  });

  it('a body that is not JSON makes every body condition false', async () => {
    sluice = await startSluice({
      queues: QUEUES,
      sources: { s: { routes: [{ queue: 'billing', when: { path: 'body.type', op: 'ne', value: 'x' } }, { queue: 'audit', when: { not: { path: 'body', op: 'exists' } } }] } },
    });
    const answer = await post('/in/s', 'type=invoice.paid', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(answer.body.ids).toHaveLength(1); // only the `not` route
    expect((await sluice.app.store.getMessage(answer.body.id!))?.queue).toBe('audit');
  });

  it('with first: true, only the first matching route takes the request (a switch)', async () => {
    sluice = await startSluice({
      queues: QUEUES,
      sources: {
        gh: {
          first: true,
          routes: [
            { queue: 'github', when: { path: 'headers.x-github-event', op: 'in', value: ['push', 'pull_request'] } },
            { queue: 'audit', when: { path: 'query.kind', op: 'eq', value: 'audit' } },
            { queue: 'rest' },
          ],
        },
      },
    });
    expect((await post('/in/gh?kind=audit', '{}', { 'X-GitHub-Event': 'push' })).body.ids).toHaveLength(1);
    expect((await post('/in/gh?kind=audit', '{}', { 'X-GitHub-Event': 'issues' })).body.ids).toHaveLength(1);
    expect((await post('/in/gh', '{}')).body.ids).toHaveLength(1);
    await eventually(() => depth('github') === 1 && depth('audit') === 1 && depth('rest') === 1, 'one message in each queue');
  });

  it('answers a request that matches nothing without storing it, and counts and logs it', async () => {
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger = { debug() {}, info: (message: string, fields?: Record<string, unknown>) => lines.push({ message, fields }), warn() {}, error() {}, child() { return logger; } };
    sluice = await startSluice({ queues: QUEUES, sources: { stripe: { routes: STRIPE_ROUTES.routes } } }, { logger: logger as never });
    const answer = await post('/in/stripe', JSON.stringify({ type: 'charge.failed' }));
    expect(answer).toEqual({ status: 202, body: { id: null, ids: [] } });
    expect(depths()).toEqual({ billing: 0, audit: 0, rest: 0, github: 0 });
    expect(payloadRows()).toBe(0);
    const metrics = await (await fetch(`${sluice.url}/metrics`, { headers: { authorization: `Bearer ${sluice.key}` } })).text();
    expect(metrics).toMatch(/sluice_unrouted_total\{source="stripe"\} 1/);
    expect(metrics).toMatch(/sluice_routed_total\{source="stripe",route="invoices"\} 0/);
    expect(lines.some((line) => line.message.includes('no route') && line.fields?.source === 'stripe')).toBe(true);
  });

  it('counts each route it takes in /metrics', async () => {
    sluice = await startSluice({ queues: QUEUES, sources: { stripe: STRIPE_ROUTES } });
    await post('/in/stripe', JSON.stringify({ type: 'invoice.paid', data: { object: { customer: 'c' } } }));
    await post('/in/stripe', JSON.stringify({ type: 'invoice.created' }));
    await post('/in/stripe', JSON.stringify({ type: 'charge.failed' }));
    const metrics = await (await fetch(`${sluice.url}/metrics`, { headers: { authorization: `Bearer ${sluice.key}` } })).text();
    expect(metrics).toMatch(/sluice_routed_total\{source="stripe",route="invoices"\} 2/);
    expect(metrics).toMatch(/sluice_routed_total\{source="stripe",route="1"\} 1/);
    expect(metrics).toMatch(/sluice_routed_total\{source="stripe",route="fallback"\} 1/);
  });

  it('verifies and deduplicates once, before routing: a retried event stores nothing in any queue', async () => {
    const secret = 'whsec_routing_test';
    sluice = await startSluice({ queues: QUEUES, sources: { stripe: { ...STRIPE_ROUTES, verify: { type: 'stripe', secret }, dedupe: 'stripe' } } });
    const event = JSON.stringify({ id: 'evt_1', type: 'invoice.paid', data: { object: { customer: 'c' } } });
    const signed = () => {
      const t = Math.floor(Date.now() / 1000);
      return { 'stripe-signature': `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${event}`).digest('hex')}` };
    };
    const first = await post('/in/stripe', event, signed());
    const again = await post('/in/stripe', event, signed());
    expect(first.body.ids).toHaveLength(2);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    const refused = await fetch(`${sluice.url}/in/stripe`, { method: 'POST', body: event, headers: { 'stripe-signature': 't=1,v1=00' } });
    expect(refused.status).toBe(401);
    await eventually(() => depth('billing') === 1, 'the counts');
    expect(depths()).toEqual({ billing: 1, audit: 1, rest: 0, github: 0 });
    expect(payloadRows()).toBe(1);
  });

  it('delivers a routed push message with the shared body', async () => {
    const sink = await new Sink().start();
    sinks.push(sink);
    sluice = await startSluice({
      network: { allowPrivate: true },
      queues: { ...QUEUES, hooks: { mode: 'push', url: `http://127.0.0.1:${sink.port}/in` } },
      sources: { s: { routes: [{ queue: 'hooks' }, { queue: 'audit' }] } },
    });
    await post('/in/s/sub', '{"n":7}');
    await eventually(() => sink.arrivals.length === 1, 'the delivery');
    expect(sink.arrivals[0]!.body.toString()).toBe('{"n":7}');
    expect(sink.arrivals[0]!.url).toBe('/in/sub');
  });

  it('refuses the whole request when one routed queue is full: nothing stored in any', async () => {
    sluice = await startSluice({ queues: { ...QUEUES, billing: { mode: 'pull', maxDepth: 1 } }, sources: { s: { routes: [{ queue: 'audit' }, { queue: 'billing' }] } } });
    expect((await post('/in/s', '{}')).status).toBe(202);
    const full = await post('/in/s', '{}');
    expect(full.status).toBe(503);
    await eventually(() => depth('audit') === 1, 'the counts');
    expect(depths()).toEqual({ billing: 1, audit: 1, rest: 0, github: 0 });
  });
});

describe('sources with routes in sluice.yaml are checked at start', () => {
  const start = async (sources: unknown) => {
    sluice = await startSluice({ queues: QUEUES, sources });
  };

  it.each([
    [{ s: { routes: [{ queue: 'billing' }, { queue: 'nope' }] } }, /sources\.s\.routes\.1\.queue: no queue named nope/],
    [{ s: { routes: [{ queue: 'billing' }], fallback: 'nope' } }, /sources\.s\.fallback: no queue named nope/],
    [{ s: { routes: [{ workflow: 'onboarding' }] } }, /sources\.s\.routes\.0\.workflow: no workflow named onboarding/],
    [{ s: { routes: [{ queue: 'billing', when: { path: 'cookies.a', op: 'eq', value: 1 } }] } }, /sources\.s\.routes\.0\.when\.path.*unknown root/],
    [{ s: { routes: [{ queue: 'billing', when: { path: 'body.a', op: 'gt' } }] } }, /sources\.s\.routes\.0\.when\.value.*needs a value/],
    [{ s: { queue: 'billing', routes: [{ queue: 'audit' }] } }, /sources\.s\.queue.*either one queue, one workflow or routes/],
  ])('refuses %j', async (sources, message) => {
    await expect(start(sources)).rejects.toThrow(message);
  });
});

describePostgres('a source with routes on PostgreSQL', () => {
  it('fans out with one stored payload, dedupes once, and the messages are pulled with their body', async () => {
    const schema = freshSchema();
    try {
      sluice = await startSluice({
        storage: { postgres: postgresUrl, postgresSchema: schema, postgresPoolSize: 4 },
        queues: QUEUES,
        sources: { stripe: { ...STRIPE_ROUTES, dedupe: { header: 'x-delivery' } } },
      });
      const event = JSON.stringify({ type: 'invoice.paid', data: { object: { customer: 'cus_1' } } });
      const first = await post('/in/stripe', event, { 'x-delivery': 'd-1' });
      const again = await post('/in/stripe', event, { 'x-delivery': 'd-1' });
      expect(first.body.ids).toHaveLength(2);
      expect(again.body.id).toBe(first.body.id);
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        const rows = await client.query(`SELECT (SELECT count(*) FROM ${schema}.payloads)::int AS payloads, (SELECT count(*) FROM ${schema}.messages)::int AS messages`);
        expect(rows.rows[0]).toEqual({ payloads: 1, messages: 2 });
      } finally {
        await client.end();
      }
      for (const queue of ['billing', 'audit']) {
        const pulled = await sluice.api('POST', `/v1/queues/${queue}/pull`, { max: 5 });
        expect(pulled.body.messages).toHaveLength(1);
        expect(pulled.body.messages[0].body).toBe(event);
      }
    } finally {
      await sluice?.stop();
      sluice = undefined;
      await dropSchema(schema);
    }
  });
});
