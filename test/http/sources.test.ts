import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.js';

/**
 * Sources through the API (PUT/GET/DELETE /v1/sources/{name}, GET /v1/sources, the dry run): made on
 * a real node on a real SQLite file, refused with the field named, kept per tenant, and kept across
 * a restart.
 */

const running: TestSluice[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sluice) => sluice.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** sluice.yaml of every test: two pull queues of the default tenant and one source of the file. */
const FILE = {
  queues: { billing: { mode: 'pull' }, inbox: { mode: 'pull' }, audit: { mode: 'pull' } },
  sources: { filed: { queue: 'inbox' } },
};

async function start(dir?: string): Promise<TestSluice> {
  const sluice = await startSluice(FILE, dir === undefined ? {} : { dir });
  running.push(sluice);
  return sluice;
}

/** Create a tenant with one key and one pull queue of its own (`<tenant>-jobs`); returns the key. */
async function tenant(sluice: TestSluice, name: string): Promise<string> {
  expect((await sluice.api('POST', '/v1/tenants', { name })).status).toBe(201);
  const key = (await sluice.api('POST', `/v1/tenants/${name}/keys`)).body.key as string;
  expect((await sluice.api('PUT', `/v1/queues/${name}-jobs`, { mode: 'pull' }, key)).status).toBe(201);
  return key;
}

/** Every stored message (admin view), oldest first: queue, tenant and body. */
async function messages(sluice: TestSluice): Promise<{ queue: string; tenant: string; body: string }[]> {
  const page = await sluice.api('GET', '/v1/messages?limit=1000');
  expect(page.status).toBe(200);
  return (page.body.messages as { queue: string; tenant: string; body: string }[]).map(({ queue, tenant, body }) => ({ queue, tenant, body })).reverse();
}

async function ingest(sluice: TestSluice, source: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  return (await fetch(`${sluice.url}/in/${source}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })).status;
}

const STRIPE = {
  routes: [
    { name: 'invoices', queue: 'billing', when: { path: 'body.type', op: 'prefix', value: 'invoice.' } },
    { queue: 'audit', when: { path: 'headers.x-stripe-livemode', op: 'eq', value: 'true' } },
  ],
  fallback: 'inbox',
};

describe('sources through the API', () => {
  it('PUT creates (201) and replaces (200); GET, the listing and ingest see it at once; DELETE takes it away', async () => {
    const sluice = await start();
    const created = await sluice.api('PUT', '/v1/sources/stripe', STRIPE);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toEqual({
      name: 'stripe',
      tenant: 'default',
      fromFile: false,
      config: expect.objectContaining({ routes: STRIPE.routes, fallback: 'inbox' }),
      counts: { routes: { invoices: 0, 1: 0 }, fallback: 0, unrouted: 0 },
    });
    expect((await sluice.api('GET', '/v1/sources/stripe')).body).toEqual(created.body);

    const listed = (await sluice.api('GET', '/v1/sources')).body.sources as { name: string; fromFile: boolean; tenant: string }[];
    expect(listed.map(({ name, fromFile, tenant }) => ({ name, fromFile, tenant }))).toEqual([
      { name: 'filed', fromFile: true, tenant: 'default' },
      { name: 'stripe', fromFile: false, tenant: 'default' },
    ]);

    const single = { queue: 'billing', response: { status: 200, body: 'got {id}' } };
    const replaced = await sluice.api('PUT', '/v1/sources/stripe', single);
    expect(replaced.status).toBe(200);
    expect(replaced.body.config).toMatchObject(single);
    expect(replaced.body.counts).toEqual({ routes: {}, fallback: 0, unrouted: 0 });
    const answer = await fetch(`${sluice.url}/in/stripe`, { method: 'POST', body: '{"type":"invoice.paid"}' });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toMatch(/^got \d+$/);
    expect(await messages(sluice)).toEqual([{ queue: 'billing', tenant: 'default', body: '{"type":"invoice.paid"}' }]);

    expect((await sluice.api('DELETE', '/v1/sources/stripe')).status).toBe(204);
    expect((await sluice.api('GET', '/v1/sources/stripe')).body.code).toBe('SLUICE_ERR_SOURCE_NOT_FOUND');
    expect((await sluice.api('DELETE', '/v1/sources/stripe')).status).toBe(404);
    expect(await ingest(sluice, 'stripe', '{}')).toBe(404);
    expect(await sluice.app.store.listSources()).toEqual([]);
    // What it stored stays.
    expect(await messages(sluice)).toHaveLength(1);
  });

  it('ingest through an API source with routes fans out, and its counts show per route', async () => {
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/sources/stripe', STRIPE)).status).toBe(201);
    const invoice = '{"type":"invoice.paid"}';
    expect(await ingest(sluice, 'stripe', invoice, { 'x-stripe-livemode': 'true' })).toBe(202);
    expect(await ingest(sluice, 'stripe', '{"type":"charge.failed"}')).toBe(202);
    expect(await messages(sluice)).toEqual([
      { queue: 'billing', tenant: 'default', body: invoice },
      { queue: 'audit', tenant: 'default', body: invoice },
      { queue: 'inbox', tenant: 'default', body: '{"type":"charge.failed"}' },
    ]);
    expect((await sluice.api('GET', '/v1/sources/stripe')).body.counts).toEqual({ routes: { invoices: 1, 1: 1 }, fallback: 1, unrouted: 0 });
    // Without a fallback an unmatched request is answered, counted, and not stored.
    expect((await sluice.api('PUT', '/v1/sources/stripe', { routes: STRIPE.routes })).status).toBe(200);
    expect(await ingest(sluice, 'stripe', '{"type":"charge.failed"}')).toBe(202);
    expect(await messages(sluice)).toHaveLength(3);
    expect((await sluice.api('GET', '/v1/sources/stripe')).body.counts).toEqual({ routes: { invoices: 1, 1: 1 }, fallback: 1, unrouted: 1 });
  });

  it('a bad source is a 400 naming the field, and nothing is stored', async () => {
    const sluice = await start();
    await tenant(sluice, 'acme');
    const cases: [string, unknown, string][] = [
      ['unknown root', { routes: [{ queue: 'billing', when: { path: 'cookies.session', op: 'eq', value: 'x' } }] }, 'routes.0.when.path'],
      ['op without its value', { routes: [{ queue: 'billing', when: { all: [{ path: 'body.a', op: 'exists' }, { path: 'body.type', op: 'eq' }] } }] }, 'routes.0.when.all.1.value'],
      ["another tenant's queue", { routes: [{ queue: 'billing' }, { queue: 'acme-jobs' }] }, 'routes.1.queue'],
      ['an unknown queue', { routes: [{ queue: 'billing' }], fallback: 'nowhere' }, 'fallback'],
      ['both queue and routes', { queue: 'billing', routes: [{ queue: 'billing' }] }, 'queue'],
      ['neither', {}, 'queue'],
      ['a workflow (none exist yet)', { routes: [{ workflow: 'onboard' }] }, 'routes.0.workflow'],
      ['first without routes', { queue: 'billing', first: true }, 'first'],
      ['two routes of one name', { routes: [{ name: 'a', queue: 'billing' }, { name: 'a', queue: 'inbox' }] }, 'routes.1.name'],
      ['an unknown field', { queue: 'billing', colour: 'blue' }, '(body)'],
      ['a secret not in the vault', { queue: 'billing', verify: { type: 'token', secret: '{{ secrets.hook }}', header: 'x-token' } }, 'verify.secret'],
    ];
    for (const [what, body, field] of cases) {
      const refused = await sluice.api('PUT', '/v1/sources/bad', body);
      expect(refused.status, what).toBe(400);
      expect(refused.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
      expect(refused.body.code, what).toBe('SLUICE_ERR_VALIDATION');
      expect(refused.body.errors.map((error: { field: string }) => error.field), what).toContain(field);
      expect(refused.body.detail, what).toContain(field === '(body)' ? 'colour' : field);
    }
    expect((await sluice.api('PUT', '/v1/sources/bad name', { queue: 'billing' })).status).toBe(400);
    expect((await sluice.api('GET', '/v1/sources/bad')).status).toBe(404);
    expect(await sluice.app.store.listSources()).toEqual([]);
  });

  it("tenants see, change and test only their own sources, and route only to their own queues", async () => {
    const sluice = await start();
    const acme = await tenant(sluice, 'acme');
    const beta = await tenant(sluice, 'beta');
    const made = await sluice.api('PUT', '/v1/sources/acme-hooks', { routes: [{ queue: 'acme-jobs' }] }, acme);
    expect(made.status).toBe(201);
    expect(made.body.tenant).toBe('acme');

    // beta: as if it did not exist, and the name is not beta's to take.
    expect((await sluice.api('GET', '/v1/sources/acme-hooks', undefined, beta)).body.code).toBe('SLUICE_ERR_SOURCE_NOT_FOUND');
    expect((await sluice.api('DELETE', '/v1/sources/acme-hooks', undefined, beta)).status).toBe(404);
    expect((await sluice.api('POST', '/v1/sources/acme-hooks/test', { body: {} }, beta)).status).toBe(404);
    const taken = await sluice.api('PUT', '/v1/sources/acme-hooks', { queue: 'beta-jobs' }, beta);
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('SLUICE_ERR_CONFLICT');
    expect(taken.body.detail).toBe('source name acme-hooks is taken'); // not whose it is
    expect((await sluice.api('GET', '/v1/sources', undefined, beta)).body.sources).toEqual([]);
    // beta's routes cannot name acme's queue, nor the default tenant's.
    for (const queue of ['acme-jobs', 'billing']) {
      const refused = await sluice.api('PUT', '/v1/sources/beta-hooks', { routes: [{ queue: 'beta-jobs' }], fallback: queue }, beta);
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: 'fallback', message: `no queue named ${queue}` }]);
    }

    // acme sees its own only (not the file's source of the default tenant).
    expect((await sluice.api('GET', '/v1/sources', undefined, acme)).body.sources.map((s: { name: string }) => s.name)).toEqual(['acme-hooks']);
    expect((await sluice.api('GET', '/v1/sources/filed', undefined, acme)).status).toBe(404);
    // The admin sees every tenant's, or one tenant's with ?tenant=, and makes sources for a tenant.
    expect((await sluice.api('GET', '/v1/sources')).body.sources.map((s: { name: string }) => s.name)).toEqual(['acme-hooks', 'filed']);
    expect((await sluice.api('GET', '/v1/sources?tenant=acme')).body.sources.map((s: { name: string }) => s.name)).toEqual(['acme-hooks']);
    const forBeta = await sluice.api('PUT', '/v1/sources/beta-hooks?tenant=beta', { queue: 'beta-jobs' });
    expect(forBeta.body).toMatchObject({ tenant: 'beta', fromFile: false });
    expect((await sluice.api('PUT', '/v1/sources/x?tenant=nobody', { queue: 'billing' })).body.errors).toEqual([{ field: 'tenant', message: 'no such tenant' }]);
    expect((await sluice.api('PUT', '/v1/sources/beta-hooks?tenant=acme', { queue: 'acme-jobs' })).status).toBe(409);
    // Without ?tenant= the admin changes a source for its owner.
    expect((await sluice.api('PUT', '/v1/sources/beta-hooks', { queue: 'beta-jobs', maxBodyBytes: 1_024 })).body.tenant).toBe('beta');

    // Ingest through acme's source stores acme's message.
    expect(await ingest(sluice, 'acme-hooks', '{"n":1}')).toBe(202);
    expect(await messages(sluice)).toEqual([{ queue: 'acme-jobs', tenant: 'acme', body: '{"n":1}' }]);
  });

  it('a source of sluice.yaml is shown but changed only in the file (409 SLUICE_ERR_SOURCE_IN_FILE)', async () => {
    const sluice = await start();
    const shown = await sluice.api('GET', '/v1/sources/filed');
    expect(shown.body).toMatchObject({ name: 'filed', tenant: 'default', fromFile: true, config: { queue: 'inbox' } });
    for (const [method, body] of [['PUT', { queue: 'billing' }], ['DELETE', undefined]] as const) {
      const refused = await sluice.api(method, '/v1/sources/filed', body);
      expect(refused.status, method).toBe(409);
      expect(refused.body.code, method).toBe('SLUICE_ERR_SOURCE_IN_FILE');
    }
    expect(sluice.app.sources.get('filed')?.config).toEqual({ queue: 'inbox' });
  });

  it('verify secrets work and are never shown', async () => {
    const sluice = await start();
    const source = { queue: 'billing', verify: { type: 'token', secret: 'tok-s3cret', header: 'x-token' }, handshake: { type: 'meta', verifyToken: 'meta-s3cret' } };
    const made = await sluice.api('PUT', '/v1/sources/guarded', source);
    expect(made.status).toBe(201);
    for (const answer of [made.body, (await sluice.api('GET', '/v1/sources/guarded')).body, (await sluice.api('GET', '/v1/sources')).body]) {
      expect(JSON.stringify(answer)).not.toMatch(/s3cret/);
    }
    expect(made.body.config.verify).toEqual({ type: 'token', header: 'x-token' });
    expect(await ingest(sluice, 'guarded', '{}', { 'x-token': 'wrong' })).toBe(401);
    expect(await ingest(sluice, 'guarded', '{}', { 'x-token': 'tok-s3cret' })).toBe(202);
  });

  it('a queue an API source routes to cannot be deleted until the source is gone', async () => {
    const sluice = await start();
    const acme = await tenant(sluice, 'acme');
    expect((await sluice.api('PUT', '/v1/sources/acme-hooks', { routes: [{ queue: 'acme-jobs' }] }, acme)).status).toBe(201);
    const refused = await sluice.api('DELETE', '/v1/queues/acme-jobs', undefined, acme);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('source acme-hooks');
    expect((await sluice.api('DELETE', '/v1/sources/acme-hooks', undefined, acme)).status).toBe(204);
    expect((await sluice.api('DELETE', '/v1/queues/acme-jobs', undefined, acme)).status).toBe(200);
  });

  it('the dry run says which routes match and why, and stores and counts nothing', async () => {
    const sluice = await start();
    await sluice.api('PUT', '/v1/sources/github', {
      first: true,
      routes: [
        { name: 'pushes', queue: 'billing', when: { all: [{ path: 'headers.x-github-event', op: 'eq', value: 'push' }, { path: 'body.ref', op: 'prefix', value: 'refs/heads/' }] } },
        { name: 'main', queue: 'audit', when: { path: 'body.ref', op: 'eq', value: 'refs/heads/main' } },
        { name: 'tagged', queue: 'audit', when: { path: 'query.tag', op: 'exists' } },
      ],
      fallback: 'inbox',
    });
    const before = await messages(sluice);

    const push = await sluice.api('POST', '/v1/sources/github/test', { headers: { 'X-GitHub-Event': 'push' }, body: { ref: 'refs/heads/main' }, query: { tag: 'v1' } });
    expect(push.status, JSON.stringify(push.body)).toBe(200);
    expect(push.body.routes.map((r: { name: string; matched: boolean; selected: boolean }) => [r.name, r.matched, r.selected])).toEqual([
      ['pushes', true, true],
      ['main', true, false], // first: only the first match takes it
      ['tagged', true, false],
    ]);
    expect(push.body.routes[0].why).toEqual({
      combinator: 'all',
      result: true,
      parts: [
        { result: true, path: 'headers.x-github-event', op: 'eq', value: 'push', actual: 'push' },
        { result: true, path: 'body.ref', op: 'prefix', value: 'refs/heads/', actual: 'refs/heads/main' },
      ],
    });
    expect(push.body.targets).toEqual([{ route: 'pushes', queue: 'billing' }]);

    // A body that is not JSON: every body.* condition is false, and the fallback takes it.
    const text = await sluice.api('POST', '/v1/sources/github/test', { method: 'put', path: '/x', query: 'a=1', body: 'ref=refs/heads/main' });
    expect(text.body.routes.map((r: { matched: boolean }) => r.matched)).toEqual([false, false, false]);
    expect(text.body.routes[1].why).toEqual({ result: false, path: 'body.ref', op: 'eq', value: 'refs/heads/main', unreadable: true });
    expect(text.body.routes[2].why).toMatchObject({ result: false, missing: true });
    expect(text.body).toMatchObject({ first: true, fallback: 'inbox', targets: [{ queue: 'inbox', fallback: true }] });

    // Bad dry-run input is a 400 naming the field; the file's sources can be tried too.
    expect((await sluice.api('POST', '/v1/sources/github/test', { path: 'no-slash' })).body.errors[0].field).toBe('path');
    expect((await sluice.api('POST', '/v1/sources/github/test', { headers: { 'bad name': 'x' } })).status).toBe(400);
    expect((await sluice.api('POST', '/v1/sources/filed/test', {})).body).toEqual({ routes: [], first: false, targets: [{ queue: 'inbox' }] });
    expect((await sluice.api('POST', '/v1/sources/nope/test', {})).status).toBe(404);

    expect(await messages(sluice)).toEqual(before);
    expect((await sluice.api('GET', '/v1/sources/github')).body.counts).toEqual({ routes: { pushes: 0, main: 0, tagged: 0 }, fallback: 0, unrouted: 0 });
  });
});

describe('sources made through the API survive a restart', () => {
  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sources-'));
    dirs.push(dir);
    return dir;
  }

  it('a new node on the same data dir answers them as before, owned as before', async () => {
    const dir = tempDir();
    const first = await start(dir);
    const acme = await tenant(first, 'acme');
    await first.api('PUT', '/v1/sources/stripe', STRIPE);
    await first.api('PUT', '/v1/sources/acme-hooks', { queue: 'acme-jobs', dedupe: 'stripe', response: { headers: { 'x-ok': '1' } } }, acme);
    const before = (await first.api('GET', '/v1/sources')).body;
    await first.stop();

    const second = await start(dir);
    expect((await second.api('GET', '/v1/sources')).body).toEqual(before);
    expect(second.app.sources.get('acme-hooks')).toMatchObject({ tenant: 'acme', fromFile: false });
    expect((await second.api('GET', '/v1/sources', undefined, acme)).body.sources.map((s: { name: string }) => s.name)).toEqual(['acme-hooks']);
    const answer = await fetch(`${second.url}/in/acme-hooks`, { method: 'POST', body: '{"id":"evt_1"}' });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('x-ok')).toBe('1');
    expect(await messages(second)).toEqual([{ queue: 'acme-jobs', tenant: 'acme', body: '{"id":"evt_1"}' }]);
  });

  it('a stored source that cannot be read stops the start, naming it', async () => {
    const dir = tempDir();
    const first = await start(dir);
    await first.api('PUT', '/v1/sources/odd', { queue: 'billing' });
    await first.stop();
    const db = new Database(join(dir, 'data', 'sluice.db'));
    db.prepare(`UPDATE sources SET config = '{"queue":"billing","fromTheFuture":true}' WHERE name = 'odd'`).run();
    db.close();
    await expect(start(dir)).rejects.toThrow(/stored source "odd" cannot be read: \(root\): .*fromTheFuture/);
  });
});
