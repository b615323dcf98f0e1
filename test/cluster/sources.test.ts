import { afterEach, expect, it } from 'vitest';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * Sources made through the API on a cluster: two nodes in this process on one PostgreSQL schema.
 * What is checked is what a sender and a user see through each node; nothing asserts how long the
 * news took to travel (eventually() only waits for it).
 */
describePostgres('sources through the API on several nodes', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  async function twoNodes(): Promise<[TestSluice, TestSluice]> {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(schema));
    const config = {
      storage: { postgres: postgresUrl, postgresSchema: schema, postgresPoolSize: 4 },
      limits: { perNode: true },
      queues: { billing: { mode: 'pull' }, inbox: { mode: 'pull' } },
    };
    const nodes: TestSluice[] = [];
    for (let i = 0; i < 2; i += 1) {
      const node = await startSluice(config);
      cleanups.push(() => node.stop());
      nodes.push(node);
    }
    return nodes as [TestSluice, TestSluice];
  }

  const ingest = async (node: TestSluice, source: string, body: string) => (await fetch(`${node.url}/in/${source}`, { method: 'POST', body })).status;

  it('a source made, changed and deleted on one node answers so on the other', async () => {
    const [a, b] = await twoNodes();
    expect(await ingest(b, 'stripe', '{}')).toBe(404);
    const routes = { routes: [{ queue: 'billing', when: { path: 'body.type', op: 'prefix', value: 'invoice.' } }] };
    expect((await a.api('PUT', '/v1/sources/stripe', routes)).status).toBe(201);

    await eventually(async () => (await ingest(b, 'stripe', '{"type":"invoice.paid"}')) === 202, 'node B answering the source');
    expect((await b.api('GET', '/v1/sources/stripe')).body).toMatchObject({ tenant: 'default', fromFile: false, config: routes, counts: { routes: { 0: 1 } } });
    // Node A counts only what it ingested itself.
    expect((await a.api('GET', '/v1/sources/stripe')).body.counts.routes).toEqual({ 0: 0 });

    expect((await a.api('PUT', '/v1/sources/stripe', { ...routes, fallback: 'inbox' })).status).toBe(200);
    await eventually(async () => (await b.api('GET', '/v1/sources/stripe')).body.config.fallback === 'inbox', 'node B taking the change');
    expect(await ingest(b, 'stripe', '{"type":"charge.failed"}')).toBe(202);
    const stored = (await a.api('GET', '/v1/messages?limit=10')).body.messages.map((m: { queue: string; body: string }) => [m.queue, m.body]);
    expect(stored.sort()).toEqual([
      ['billing', '{"type":"invoice.paid"}'],
      ['inbox', '{"type":"charge.failed"}'],
    ]);

    expect((await b.api('DELETE', '/v1/sources/stripe')).status).toBe(204);
    await eventually(async () => (await ingest(a, 'stripe', '{}')) === 404, 'node A forgetting the source');
    expect((await a.api('GET', '/v1/sources')).body.sources).toEqual([]);
  });

  it("a tenant's source made on one node is that tenant's on the other, and its name is not another's to take there", async () => {
    const [a, b] = await twoNodes();
    expect((await a.api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
    expect((await a.api('POST', '/v1/tenants', { name: 'beta' })).status).toBe(201);
    const acme = (await a.api('POST', '/v1/tenants/acme/keys')).body.key as string;
    const beta = (await a.api('POST', '/v1/tenants/beta/keys')).body.key as string;
    expect((await a.api('PUT', '/v1/queues/acme-jobs', { mode: 'pull' }, acme)).status).toBe(201);
    expect((await a.api('PUT', '/v1/queues/beta-jobs', { mode: 'pull' }, beta)).status).toBe(201);
    expect((await a.api('PUT', '/v1/sources/hooks', { queue: 'acme-jobs' }, acme)).status).toBe(201);

    const seen = await eventually(async () => {
      const answer = await b.api('GET', '/v1/sources', undefined, acme);
      return answer.status === 200 && answer.body.sources.length === 1 ? answer.body.sources[0] : undefined;
    }, "node B showing acme's source");
    expect(seen).toMatchObject({ name: 'hooks', tenant: 'acme' });
    expect((await b.api('GET', '/v1/sources/hooks', undefined, beta)).status).toBe(404);
    await eventually(async () => b.app.queues.get('beta-jobs') !== undefined, "node B knowing beta's queue");
    expect((await b.api('PUT', '/v1/sources/hooks', { queue: 'beta-jobs' }, beta)).status).toBe(409);
    expect(await ingest(b, 'hooks', '{"n":1}')).toBe(202);
    expect((await a.api('GET', '/v1/messages?queue=acme-jobs', undefined, acme)).body.messages).toHaveLength(1);
  });
});
