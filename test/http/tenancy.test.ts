import { afterEach, describe, expect, it } from 'vitest';
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

async function setup() {
  sink = await new Sink(() => ({ status: 200 })).start();
  sluice = await startSluice({ network: { allowPrivate: true } });
  return { sink, sluice };
}

/** Create a tenant and one key of it; returns the key. */
async function tenantKey(sluice: TestSluice, name: string): Promise<string> {
  const created = await sluice.api('POST', '/v1/tenants', { name });
  expect(created.status).toBe(201);
  const key = await sluice.api('POST', `/v1/tenants/${name}/keys`);
  expect(key.status).toBe(201);
  return key.body.key as string;
}

/** Put one message of a pull queue (maxReceives 1) into its dead letters, as `key`. */
async function deadLetter(sluice: TestSluice, queue: string, key: string): Promise<string> {
  const source = await sluice.api('PUT', `/v1/queues/${queue}`, { mode: 'pull', maxReceives: 1 }, key);
  expect(source.status).toBeLessThan(300);
  // A pull queue takes messages from sources; the store is the quickest way in for a test.
  const [appended] = await sluice.app.writer.appendAll([
    {
      queue,
      tenant: sluice.app.queues.get(queue)!.tenant,
      method: 'POST',
      path: '/',
      query: '',
      headers: [],
      body: Buffer.from('secret of ' + queue),
      domain: '',
      receivedAt: Date.now(),
      deliverAt: Date.now(),
      origin: 'test',
    },
  ]);
  const pulled = await sluice.api('POST', `/v1/queues/${queue}/pull`, { max: 1 }, key);
  await sluice.api('POST', `/v1/queues/${queue}/nack`, { receipts: [pulled.body.messages[0].receipt] }, key);
  return appended!.id;
}

describe('queue names belong to a tenant', () => {
  it('another tenant can neither take the name nor read or replay its dead letters', async () => {
    const { sluice } = await setup();
    const acme = await tenantKey(sluice, 'acme');
    const evil = await tenantKey(sluice, 'evil');
    const id = await deadLetter(sluice, 'jobs', acme);

    const take = await sluice.api('PUT', '/v1/queues/jobs', { mode: 'pull' }, evil);
    expect(take.status).toBe(409);
    expect(JSON.stringify(take.body)).not.toContain('acme');
    expect((await sluice.api('GET', '/v1/queues/jobs/dead', undefined, evil)).status).toBe(404);
    expect((await sluice.api('POST', '/v1/queues/jobs/dead/replay', {}, evil)).status).toBe(404);
    expect((await sluice.api('GET', `/v1/messages/${id}`, undefined, evil)).status).toBe(404);

    // The check is the store's: even the admin cannot hand the name to another tenant while a message of it is stored.
    const handOver = await sluice.api('PUT', '/v1/queues/jobs', { mode: 'pull', tenant: 'evil' });
    expect(handOver.status).toBe(409);
    await expect(sluice.app.store.upsertQueue({ name: 'jobs', tenant: 'evil', config: {}, createdAt: 0 })).rejects.toThrow(/taken/);

    const dead = await sluice.api('GET', '/v1/queues/jobs/dead', undefined, acme);
    expect(dead.body.messages.map((m: { id: string }) => m.id)).toEqual([id]);
  });

  it('dead letters stored under the name by another tenant are neither listed nor replayed', async () => {
    const { sluice } = await setup();
    const acme = await tenantKey(sluice, 'acme');
    await tenantKey(sluice, 'evil');
    const foreign = await deadLetter(sluice, 'jobs', acme);
    // Messages of another tenant under the same name (as a data dir from before owners were kept could hold).
    await sluice.app.store.upsertQueue({ name: 'jobs', tenant: 'acme', config: sluice.app.queues.get('jobs')!.config, createdAt: 0 });
    const db = (await import('better-sqlite3')).default(`${sluice.dir}/data/sluice.db`);
    db.prepare(`UPDATE messages SET tenant = 'evil' WHERE seq = ?`).run(Number(foreign));
    db.close();
    expect((await sluice.api('GET', '/v1/queues/jobs/dead', undefined, acme)).body.messages).toEqual([]);
    expect((await sluice.api('POST', '/v1/queues/jobs/dead/replay', { ids: [foreign] }, acme)).body.replayed).toBe(0);
  });

  it('DELETE refuses a queue with pending messages unless forced; its dead letters go with it and the name is free again', async () => {
    const { sluice } = await setup();
    const acme = await tenantKey(sluice, 'acme');
    const evil = await tenantKey(sluice, 'evil');
    const deadId = await deadLetter(sluice, 'jobs', acme);
    await sluice.app.writer.appendAll([
      { queue: 'jobs', tenant: 'acme', method: 'POST', path: '/', query: '', headers: [], body: Buffer.alloc(0), domain: '', receivedAt: 0, deliverAt: Date.now(), origin: 'test' },
    ]);
    expect((await sluice.api('DELETE', '/v1/queues/jobs', undefined, evil)).status).toBe(404);
    const refused = await sluice.api('DELETE', '/v1/queues/jobs', undefined, acme);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'SLUICE_ERR_CONFLICT', pending: 1 });
    expect(sluice.app.queues.get('jobs')).toBeDefined();

    const deleted = await sluice.api('DELETE', '/v1/queues/jobs?force=true', undefined, acme);
    expect(deleted).toMatchObject({ status: 200, body: { deleted: true, messages: 2 } });
    expect((await sluice.api('GET', `/v1/messages/${deadId}`)).status).toBe(404);

    expect((await sluice.api('PUT', '/v1/queues/jobs', { mode: 'pull' }, evil)).status).toBe(201);
    expect((await sluice.api('GET', '/v1/queues/jobs/dead', undefined, evil)).body.messages).toEqual([]);
  });

  it('DELETE of a queue holding only dead and finished messages needs no force', async () => {
    const { sluice } = await setup();
    const acme = await tenantKey(sluice, 'acme');
    await deadLetter(sluice, 'jobs', acme);
    expect((await sluice.api('DELETE', '/v1/queues/jobs', undefined, acme)).body).toMatchObject({ deleted: true, messages: 1 });
    expect((await sluice.api('GET', '/v1/queues/jobs', undefined, acme)).status).toBe(404);
  });

  it('a queue for a tenant that does not exist is a 400 naming tenant; outbound.<other> is kept for that tenant', async () => {
    const { sluice } = await setup();
    const made = await sluice.api('PUT', '/v1/queues/x', { mode: 'pull', tenant: 'nobody' });
    expect(made.status).toBe(400);
    expect(made.body.errors[0].field).toBe('tenant');
    expect(sluice.app.queues.get('x')).toBeUndefined();
    const acme = await tenantKey(sluice, 'acme');
    expect((await sluice.api('PUT', '/v1/queues/outbound.later', { mode: 'push' }, acme)).status).toBe(400);
  });
});

describe('sending without a queue or a url', () => {
  it('a message naming a push queue without its own url goes to the queue url', async () => {
    const { sink, sluice } = await setup();
    await sluice.api('PUT', '/v1/queues/hooks', { mode: 'push', url: `${sink.origin}/queue-target` });
    const created = await sluice.api('POST', '/v1/messages', { queue: 'hooks', body: { a: 1 } });
    expect(created.status).toBe(201);
    const batch = await sluice.api('POST', '/v1/messages/batch', { messages: [{ queue: 'hooks', body: 'b' }] });
    expect(batch.status).toBe(201);
    await eventually(() => sink.arrivals.length === 2, 'two deliveries to the queue url');
    expect(sink.arrivals.map((arrival) => arrival.url)).toEqual(['/queue-target', '/queue-target']);
  });

  it('a 400 naming url when neither the message nor its queue has one, and nothing stored', async () => {
    const { sluice } = await setup();
    const single = await sluice.api('POST', '/v1/messages', { body: 'x' });
    expect(single.status).toBe(400);
    expect(single.body.errors[0].field).toBe('url');
    const batch = await sluice.api('POST', '/v1/messages/batch', { messages: [{ url: 'http://127.0.0.1:1/' }, { body: 'x' }] });
    expect(batch.body.errors[0].field).toBe('messages.1.url');
    expect((await sluice.api('GET', '/v1/messages')).body.messages).toEqual([]);
  });

  it('a tenant key sends without naming a queue, like the admin, into its own default queue', async () => {
    const { sink, sluice } = await setup();
    const acme = await tenantKey(sluice, 'acme');
    const created = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/t` }, acme);
    expect(created.status).toBe(201);
    await eventually(() => sink.arrivals.length === 1, 'delivery of the tenant message');
    const message = await sluice.api('GET', `/v1/messages/${created.body.id}`, undefined, acme);
    expect(message.body.queue).toBe('outbound.acme');
    const queues = await sluice.api('GET', '/v1/queues', undefined, acme);
    expect(queues.body.queues.map((q: { name: string }) => q.name)).toEqual(['outbound.acme']);
  });
});

describe('schedules and tenants', () => {
  it("a tenant cannot aim a schedule at another tenant's queue, on create or on PATCH", async () => {
    const { sink, sluice } = await setup();
    const acme = await tenantKey(sluice, 'acme');
    const every = { every: '1h', message: { url: `${sink.origin}/s` } };
    const foreign = await sluice.api('POST', '/v1/schedules', { name: 's1', ...every, message: { ...every.message, queue: 'outbound' } }, acme);
    expect(foreign.status).toBe(400);
    expect(foreign.body.errors[0].field).toBe('message.queue');
    const own = await sluice.api('POST', '/v1/schedules', { name: 's1', ...every }, acme);
    expect(own.status).toBe(201);
    expect(own.body.message.queue).toBe('outbound.acme');
    const patched = await sluice.api('PATCH', '/v1/schedules/s1', { message: { url: `${sink.origin}/s`, queue: 'outbound' } }, acme);
    expect(patched.status).toBe(400);
    expect(sluice.app.schedules.get('s1')!.config.message.queue).toBe('outbound.acme');
  });

  it('the admin cannot make a schedule for a tenant that does not exist', async () => {
    const { sink, sluice } = await setup();
    const made = await sluice.api('POST', '/v1/schedules', { name: 's', every: '1h', tenant: 'nobody', message: { url: `${sink.origin}/s` } });
    expect(made.status).toBe(400);
    expect(made.body.errors[0].field).toBe('tenant');
  });

  it('a schedule whose queue changed hands does not fire into it', async () => {
    const { sink, sluice } = await setup();
    await tenantKey(sluice, 'acme');
    await tenantKey(sluice, 'evil');
    await sluice.api('PUT', '/v1/queues/shared', { mode: 'push', tenant: 'acme' });
    expect((await sluice.api('POST', '/v1/schedules', { name: 's', every: '1s', tenant: 'acme', message: { url: `${sink.origin}/s`, queue: 'shared' } })).status).toBe(201);
    // The queue is empty, so the admin may give it to another tenant; the schedule stays acme's.
    expect((await sluice.api('PUT', '/v1/queues/shared', { mode: 'push', tenant: 'evil' })).status).toBe(200);
    const due = sluice.app.schedules.get('s')!.record.nextRunAt!;
    await sluice.app.schedules.fireDue(due + 1);
    expect(sluice.app.schedules.get('s')!.record.lastRunAt).toBeUndefined();
    expect((await sluice.api('GET', '/v1/messages?queue=shared')).body.messages).toEqual([]);
  });
});

describe('tenants see only their own', () => {
  it('limits, schedules and 409s show a tenant nothing of another tenant', async () => {
    const { sink, sluice } = await setup();
    const acme = await tenantKey(sluice, 'acme');
    const evil = await tenantKey(sluice, 'evil');
    await sluice.api('PUT', '/v1/limits/tenants/acme', { concurrency: 3 });
    await sluice.api('PUT', '/v1/limits/tenants/evil', { concurrency: 4 });
    const tenants = await sluice.api('GET', '/v1/limits/tenants', undefined, acme);
    expect(tenants.body.tenants).toEqual([expect.objectContaining({ tenant: 'acme', inFlight: 0, concurrency: 3 })]);

    await sluice.api('PUT', '/v1/queues/acme-hooks', { mode: 'push', url: `${sink.origin}/a` }, acme);
    await sluice.api('PUT', '/v1/queues/evil-hooks', { mode: 'push', url: 'http://evil-target.example/' }, evil);
    await sluice.api('PUT', `/v1/limits/domains/${encodeURIComponent(`127.0.0.1:${sink.port}`)}`, { concurrency: 2 });
    await sluice.api('PUT', '/v1/limits/domains/evil-target.example', { concurrency: 9 });
    const domains = await sluice.api('GET', '/v1/limits/domains', undefined, acme);
    expect(domains.body.domains.map((d: { host: string }) => d.host)).toEqual([`127.0.0.1:${sink.port}`]);
    expect((await sluice.api('GET', '/v1/limits/domains/evil-target.example', undefined, acme)).status).toBe(404);
    expect((await sluice.api('GET', '/v1/limits/domains')).body.domains).toHaveLength(2);

    await sluice.api('POST', '/v1/schedules', { name: 'evil-plan', every: '1h', message: { url: 'http://evil-target.example/' } }, evil);
    expect((await sluice.api('GET', '/v1/schedules', undefined, acme)).body.schedules).toEqual([]);
    const taken = await sluice.api('POST', '/v1/schedules', { name: 'evil-plan', every: '1h', message: { url: `${sink.origin}/a` } }, acme);
    expect(taken.status).toBe(409);
    expect(JSON.stringify(taken.body)).not.toContain('evil"');
    expect(taken.body.detail).toBe('schedule name evil-plan is taken');
  });
});

describe('API keys', () => {
  it('lists keys without their secret, and a revoked key gets 401 at once', async () => {
    const { sluice } = await setup();
    const key = await tenantKey(sluice, 'acme');
    expect((await sluice.api('GET', '/v1/queues', undefined, key)).status).toBe(200);
    const listed = await sluice.api('GET', '/v1/tenants/acme/keys');
    expect(listed.status).toBe(200);
    expect(listed.body.keys).toHaveLength(1);
    const [shown] = listed.body.keys;
    expect(Object.keys(shown).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'prefix']);
    expect(key.startsWith(shown.prefix)).toBe(true);
    expect(shown.prefix.length).toBeLessThan(10);
    expect(shown.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(key.slice(8));
    expect((await sluice.api('GET', '/v1/tenants/acme/keys', undefined, key)).status).toBe(403);

    expect((await sluice.api('DELETE', `/v1/tenants/acme/keys/${shown.id}`)).status).toBe(204);
    expect((await sluice.api('GET', '/v1/queues', undefined, key)).status).toBe(401);
    expect((await sluice.api('GET', '/v1/tenants/acme/keys')).body.keys).toEqual([]);
    expect((await sluice.api('DELETE', `/v1/tenants/acme/keys/${shown.id}`)).status).toBe(404);
  });

  it('a revoked key stays revoked after a restart, and last use is written', async () => {
    const first = await startSluice({}, {});
    const keep = await tenantKey(first, 'acme');
    const drop = await tenantKey(first, 'beta');
    await first.api('GET', '/v1/queues', undefined, keep);
    const id = (await first.api('GET', '/v1/tenants/beta/keys')).body.keys[0].id;
    await first.api('DELETE', `/v1/tenants/beta/keys/${id}`);
    const dir = first.dir;
    await first.app.stop(); // keeps the dir
    sluice = await startSluice({}, { dir });
    expect((await sluice.api('GET', '/v1/queues', undefined, keep)).status).toBe(200);
    expect((await sluice.api('GET', '/v1/queues', undefined, drop)).status).toBe(401);
    const stored = await sluice.app.store.listApiKeys();
    expect(stored.find((k) => k.tenant === 'acme')!.lastUsedAt).toBeGreaterThan(0);
    // Tenants made before default queues existed get theirs at start too.
    expect(sluice.app.queues.get('outbound.beta')?.tenant).toBe('beta');
  });
});
