import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * The vault and templates on a cluster: nodes in this process on one PostgreSQL schema, delivering
 * to a real sink on 127.0.0.1. A secret or template made on one node is used on every node; a key
 * rotation given to every node re-seals what the old key sealed; and no row of any table holds a
 * secret's bytes.
 */
describePostgres('the vault and templates on several nodes', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  const key = () => randomBytes(32).toString('base64');

  async function sink(): Promise<Sink> {
    const started = await new Sink((req, body) => ({ status: 200, body: `${JSON.stringify(req.headers)} ${req.url} ${body.toString()}` })).start();
    cleanups.push(() => started.stop());
    return started;
  }

  function cluster(): { schema: string; node: (env?: Record<string, string>) => Promise<TestSluice> } {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(schema));
    const config = { storage: { postgres: postgresUrl, postgresSchema: schema, postgresPoolSize: 4 }, limits: { perNode: true }, network: { allowPrivate: true } };
    return {
      schema,
      node: async (env) => {
        const node = await startSluice(config, env ? { env } : {});
        cleanups.push(() => node.stop());
        return node;
      },
    };
  }

  /** Every row of every table of the schema, as PostgreSQL prints it. */
  async function dump(schema: string): Promise<string> {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>({ text: 'SELECT table_name FROM information_schema.tables WHERE table_schema = $1', values: [schema] });
      expect(tables.rows.map((row) => row.table_name)).toEqual(expect.arrayContaining(['messages', 'payloads', 'attempts', 'secrets', 'templates']));
      let text = '';
      for (const { table_name: table } of tables.rows) {
        for (const row of (await client.query<{ t: string }>(`SELECT t::text AS t FROM "${schema}"."${table}" t`)).rows) text += `${table}: ${row.t}\n`;
      }
      return text;
    } finally {
      await client.end();
    }
  }

  it('uses a secret and a template made on one node from every node, with a change made while the message waited', async () => {
    const { schema, node } = cluster();
    const target = await sink();
    const [a, b] = [await node(), await node()];
    const first = `probe-first-${randomBytes(10).toString('hex')}`;
    const second = `probe-second-${randomBytes(10).toString('hex')}`;
    expect((await a.api('PUT', '/v1/secrets/api_token', { value: first })).status).toBe(204);
    const template = { url: `${target.origin}/call?id={{ vars.id }}&token={{ secrets.api_token }}`, headers: { authorization: 'Bearer {{ secrets.api_token }}' }, body: { token: '{{ secrets.api_token }}' } };
    expect((await a.api('PUT', '/v1/templates/call', template)).status).toBe(201);

    // Node B knows both, and makes a message from them.
    await eventually(async () => (await b.api('GET', '/v1/templates/call')).status === 200 && b.app.vault.has('default', 'api_token'), 'node B knowing the template and the secret');
    const now = await b.api('POST', '/v1/messages', { template: 'call', vars: { id: 1 } });
    expect(now.status).toBe(201);
    await eventually(() => target.arrivals.length === 1, 'the first delivery');
    expect(target.arrivals[0]!.headers.authorization).toBe(`Bearer ${first}`);

    // A message waits; the secret changes on node A meanwhile; whichever node sends it sends the new value.
    const later = await b.api('POST', '/v1/messages', { template: 'call', vars: { id: 2 }, delayMs: 1_500 });
    expect((await a.api('PUT', '/v1/secrets/api_token', { value: second })).status).toBe(204);
    await eventually(() => target.arrivals.length === 2, 'the second delivery');
    expect(target.arrivals[1]!.headers.authorization).toBe(`Bearer ${second}`);
    expect(target.arrivals[1]!.url).toBe(`/call?id=2&token=${second}`);
    await eventually(async () => (await a.api('GET', `/v1/messages/${later.body.id}`)).body.attempts?.length === 1, 'the outcome stored');

    // Deleted on node B, a message made earlier on node A goes to dead naming the secret.
    const doomed = await a.api('POST', '/v1/messages', { template: 'call', vars: { id: 3 }, delayMs: 1_000 });
    expect((await b.api('DELETE', '/v1/secrets/api_token')).status).toBe(204);
    const dead = await eventually(async () => {
      const found = (await a.api('GET', `/v1/messages/${doomed.body.id}`)).body;
      return found.state === 'dead' && found;
    }, 'dead');
    expect(dead.lastError).toMatch(/secret "api_token" is not in the vault of tenant default/);
    expect(target.arrivals).toHaveLength(2);

    const tables = await dump(schema);
    expect(tables).toContain('{{ secrets.api_token }}'); // the scan reads the stored messages
    for (const value of [first, second]) {
      const bytes = Buffer.from(value);
      for (const form of [value, bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('hex'), encodeURIComponent(value)]) {
        expect(tables.includes(form), `a row holds ${form.slice(0, 20)}…`).toBe(false);
      }
    }
  });

  it("keeps each tenant's secrets and templates its own across nodes", async () => {
    const { node } = cluster();
    const target = await sink();
    const [a, b] = [await node(), await node()];
    await a.api('POST', '/v1/tenants', { name: 'acme' });
    await a.api('POST', '/v1/tenants', { name: 'beta' });
    const acme = (await a.api('POST', '/v1/tenants/acme/keys')).body.key as string;
    const beta = (await a.api('POST', '/v1/tenants/beta/keys')).body.key as string;
    await a.api('PUT', '/v1/secrets/api_token', { value: 'acme-token' }, acme);
    await a.api('PUT', '/v1/templates/call', { url: `${target.origin}/acme`, headers: { authorization: '{{ secrets.api_token }}' } }, acme);
    await eventually(async () => (await b.api('GET', '/v1/templates', undefined, acme)).body.templates?.length === 1, "node B knowing acme's template");
    expect((await b.api('GET', '/v1/templates', undefined, beta)).body.templates).toEqual([]);
    expect((await b.api('GET', '/v1/secrets', undefined, beta)).body.secrets).toEqual([]);
    expect((await b.api('POST', '/v1/messages', { template: 'call' }, beta)).body.errors[0].field).toBe('template');
    // Beta's template of the same name and beta's own secret: each message gets its own tenant's.
    await b.api('PUT', '/v1/secrets/api_token', { value: 'beta-token' }, beta);
    await b.api('PUT', '/v1/templates/call', { url: `${target.origin}/beta`, headers: { authorization: '{{ secrets.api_token }}' } }, beta);
    await eventually(() => a.app.vault.has('beta', 'api_token') && a.app.templates.get('beta', 'call') !== undefined, "node A knowing beta's");
    await a.api('POST', '/v1/messages', { template: 'call' }, beta);
    await b.api('POST', '/v1/messages', { template: 'call' }, acme);
    await eventually(() => target.arrivals.length === 2, 'both deliveries');
    expect(target.arrivals.map((arrival) => `${arrival.url} ${arrival.headers.authorization}`).sort()).toEqual(['/acme acme-token', '/beta beta-token']);
  });

  it('rotates the vault key: nodes given the new key and the old one open both; rotate-key re-seals; then the old key can go', async () => {
    const { node } = cluster();
    const target = await sink();
    const [oldKey, newKey] = [key(), key()];
    const before = await node({ SLUICE_SECRET_KEY: oldKey });
    await before.api('PUT', '/v1/secrets/api_token', { value: 'sealed-under-the-old-key' });
    await before.api('PUT', '/v1/templates/call', { url: `${target.origin}/call`, headers: { authorization: '{{ secrets.api_token }}' } });
    const oldVersion = (await before.api('GET', '/v1/secrets/api_token')).body.keyVersion;
    await before.stop();

    const rotating = { SLUICE_SECRET_KEY: newKey, SLUICE_SECRET_KEY_PREVIOUS: oldKey };
    const [a, b] = [await node(rotating), await node(rotating)];
    await b.api('POST', '/v1/messages', { template: 'call' });
    await eventually(() => target.arrivals.length === 1, 'a delivery opened with the previous key');
    const rotation = await a.api('POST', '/v1/secrets/rotate-key');
    expect(rotation.body).toMatchObject({ generated: false, resealed: 1, remaining: 0 });
    expect(rotation.body.keyVersion).not.toBe(oldVersion);
    await eventually(async () => (await b.api('GET', '/v1/secrets/api_token')).body.keyVersion === rotation.body.keyVersion, 'node B seeing the new seal');

    // A node given only the new key sends with it.
    const c = await node({ SLUICE_SECRET_KEY: newKey });
    expect(c.app.vault.reveal('default', 'api_token')).toEqual({ ok: true, value: 'sealed-under-the-old-key' });
    // A node given only the old key cannot open it: its deliveries wait and retry instead of failing.
    expect((await node({ SLUICE_SECRET_KEY: oldKey })).app.vault.reveal('default', 'api_token')).toMatchObject({ ok: false, kind: 'unavailable' });
    expect(target.arrivals.map((arrival) => arrival.headers.authorization)).toEqual(['sealed-under-the-old-key']);
  });
});
