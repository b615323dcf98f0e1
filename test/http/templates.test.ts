import { afterEach, describe, expect, it } from 'vitest';
import { signStandardWebhook } from '../../src/ingest/verify/index.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * Templates and the vault end to end, on a real node (SQLite) delivering to a real HTTP sink on
 * 127.0.0.1: what is stored, what is sent, what the API shows, and what it refuses.
 */

const running: TestSluice[] = [];
const sinks: Sink[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sluice) => sluice.stop()));
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

const TOKEN = 'tok_live_7Qz4kX9mW2pL8vN3';

/** A sink that echoes what it received (headers and body), as a careless target would. */
async function echoSink(): Promise<Sink> {
  const sink = await new Sink((req, body) => ({ status: 200, body: `${JSON.stringify(req.headers)} ${req.url} ${body.toString()}` })).start();
  sinks.push(sink);
  return sink;
}

async function start(config: Record<string, unknown> = {}): Promise<TestSluice> {
  const sluice = await startSluice({ network: { allowPrivate: true }, ...config });
  running.push(sluice);
  return sluice;
}

async function tenantKey(sluice: TestSluice, name: string): Promise<string> {
  expect((await sluice.api('POST', '/v1/tenants', { name })).status).toBe(201);
  return (await sluice.api('POST', `/v1/tenants/${name}/keys`)).body.key as string;
}

async function stateOf(sluice: TestSluice, id: string, key?: string): Promise<any> {
  return (await sluice.api('GET', `/v1/messages/${id}`, undefined, key)).body;
}

function notify(sink: Sink, extra: Record<string, unknown> = {}) {
  return {
    url: `${sink.origin}/users/{{ vars.user.id }}/notify?token={{ secrets.api_token }}`,
    headers: { authorization: 'Bearer {{ secrets.api_token }}', 'x-user': '{{ vars.user.email }}' },
    body: { email: '{{ vars.user.email }}', age: '{{ vars.user.age }}', token: '{{ secrets.api_token }}', note: 'hi {{ vars.user.name }}' },
    ...extra,
  };
}

describe('secrets through the API', () => {
  it('stores a value that no answer shows again; lists names and times; deletes', async () => {
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/secrets/api_token', { value: TOKEN })).status).toBe(204);
    const listed = await sluice.api('GET', '/v1/secrets');
    expect(listed.status).toBe(200);
    expect(listed.body.secrets).toEqual([{ name: 'api_token', tenant: 'default', createdAt: expect.any(String), updatedAt: expect.any(String), keyVersion: expect.stringMatching(/^[0-9a-f]{16}$/) }]);
    const one = await sluice.api('GET', '/v1/secrets/api_token');
    expect(one.status).toBe(200);
    expect(JSON.stringify([listed.body, one.body])).not.toContain(TOKEN);
    expect((await sluice.api('PUT', '/v1/secrets/api_token', { value: `${TOKEN}-2` })).status).toBe(204);
    expect((await sluice.api('GET', '/v1/secrets/api_token')).body.createdAt).toBe(one.body.createdAt);
    expect((await sluice.api('DELETE', '/v1/secrets/api_token')).status).toBe(204);
    expect((await sluice.api('DELETE', '/v1/secrets/api_token')).body.code).toBe('SLUICE_ERR_SECRET_NOT_FOUND');
    expect((await sluice.api('GET', '/v1/secrets/api_token')).status).toBe(404);
  });

  it('refuses bad input with a 400 naming the field, storing nothing, and never echoing the value', async () => {
    const sluice = await start();
    for (const [body, field] of [
      [{ value: 5 }, 'value'],
      [{ value: '' }, 'value'],
      [{}, 'value'],
      [{ value: TOKEN, extra: 1 }, '(body)'],
      [{ value: 'x'.repeat(65_537) }, 'value'],
    ] as const) {
      const answer = await sluice.api('PUT', '/v1/secrets/t', body);
      expect([answer.status, answer.body.code, answer.body.errors[0].field], JSON.stringify(body).slice(0, 80)).toEqual([400, 'SLUICE_ERR_VALIDATION', field]);
      expect(JSON.stringify(answer.body)).not.toContain(TOKEN);
    }
    expect((await sluice.api('PUT', '/v1/secrets/bad name!', { value: TOKEN })).status).toBe(400);
    expect((await sluice.api('PUT', '/v1/secrets/t?tenant=nobody', { value: TOKEN })).body.errors[0].field).toBe('tenant');
    expect((await sluice.api('GET', '/v1/secrets')).body.secrets).toEqual([]);
  });

  it('keeps each tenant to its own secrets; the admin reaches them with ?tenant=', async () => {
    const sluice = await start();
    const acme = await tenantKey(sluice, 'acme');
    const beta = await tenantKey(sluice, 'beta');
    expect((await sluice.api('PUT', '/v1/secrets/api_token', { value: 'acme-value' }, acme)).status).toBe(204);
    expect((await sluice.api('PUT', '/v1/secrets/api_token?tenant=acme', { value: 'ignored-tenant-param' }, beta)).status).toBe(204); // beta's own
    expect((await sluice.api('GET', '/v1/secrets', undefined, acme)).body.secrets.map((s: any) => s.tenant)).toEqual(['acme']);
    expect((await sluice.api('GET', '/v1/secrets', undefined, beta)).body.secrets.map((s: any) => s.tenant)).toEqual(['beta']);
    expect((await sluice.api('GET', '/v1/secrets')).body.secrets.map((s: any) => s.tenant)).toEqual(['acme', 'beta']);
    expect((await sluice.api('GET', '/v1/secrets?tenant=beta')).body.secrets).toHaveLength(1);
    expect((await sluice.api('GET', '/v1/secrets/api_token')).status).toBe(404); // the admin acts for default
    expect((await sluice.api('GET', '/v1/secrets/api_token?tenant=acme')).status).toBe(200);
    expect((await sluice.api('DELETE', '/v1/secrets/api_token', undefined, beta)).status).toBe(204);
    expect(sluice.app.vault.reveal('acme', 'api_token')).toEqual({ ok: true, value: 'acme-value' });
    expect((await sluice.api('POST', '/v1/secrets/rotate-key', undefined, acme)).status).toBe(403);
  });
});

describe('templates through the API', () => {
  it('makes, shows (with the variables and secrets it uses), replaces and deletes a template', async () => {
    const sluice = await start();
    const sink = await echoSink();
    const made = await sluice.api('PUT', '/v1/templates/notify', notify(sink));
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'notify', tenant: 'default', fromFile: false, vars: ['user.id', 'user.email', 'user.age', 'user.name'], secrets: ['api_token'] });
    expect(made.body.config.method).toBe('POST');
    expect((await sluice.api('PUT', '/v1/templates/notify', notify(sink, { method: 'PUT' }))).status).toBe(200);
    expect((await sluice.api('GET', '/v1/templates/notify')).body.config.method).toBe('PUT');
    expect((await sluice.api('GET', '/v1/templates')).body.templates.map((t: any) => t.name)).toEqual(['notify']);
    expect((await sluice.api('DELETE', '/v1/templates/notify')).status).toBe(204);
    expect((await sluice.api('GET', '/v1/templates/notify')).body.code).toBe('SLUICE_ERR_TEMPLATE_NOT_FOUND');
  });

  it('refuses bad templates with a 400 naming the field, storing nothing', async () => {
    const sluice = await start({ queues: { jobs: { mode: 'pull' } } });
    const acme = await tenantKey(sluice, 'acme');
    const cases: [unknown, string][] = [
      [{ url: 'https://{{ secrets.host }}/x' }, 'url'],
      [{ url: 'https://api.example.com:{{ secrets.port }}/x' }, 'url'],
      [{ url: 'ftp://example.com/' }, 'url'],
      [{ url: 'https://example.com/', nope: 1 }, '(body)'],
      [{ url: 'https://example.com/', method: 'TRACE' }, 'method'],
      [{ url: 'https://example.com/', headers: { 'x-a': 'a\r\nb' } }, 'headers.x-a'],
      [{ url: 'https://example.com/', queue: 'jobs', headers: { a: '{{ secrets.t }}' } }, 'queue'],
      [{ url: 'https://example.com/', queue: 'nope' }, 'queue'],
      [{ url: 'https://example.com/', priority: 10 }, 'priority'],
      [{ url: 'https://example.com/', retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
      [JSON.stringify('a string'), '(body)'],
    ];
    for (const [body, field] of cases) {
      const answer = await sluice.api('PUT', '/v1/templates/bad', body);
      expect([answer.status, answer.body.errors?.[0]?.field], JSON.stringify(body)).toEqual([400, field]);
    }
    // Another tenant's queue reads as none.
    expect((await sluice.api('PUT', '/v1/templates/bad', { url: 'https://example.com/', queue: 'outbound' }, acme)).body.errors[0].field).toBe('queue');
    expect((await sluice.api('GET', '/v1/templates')).body.templates).toEqual([]);
  });

  it('keeps each tenant to its own templates, by the same name', async () => {
    const sluice = await start();
    const acme = await tenantKey(sluice, 'acme');
    const beta = await tenantKey(sluice, 'beta');
    expect((await sluice.api('PUT', '/v1/templates/notify', { url: 'https://acme.example/hook' }, acme)).status).toBe(201);
    expect((await sluice.api('PUT', '/v1/templates/notify', { url: 'https://beta.example/hook' }, beta)).status).toBe(201);
    expect((await sluice.api('GET', '/v1/templates/notify', undefined, acme)).body.config.url).toBe('https://acme.example/hook');
    expect((await sluice.api('GET', '/v1/templates/notify', undefined, beta)).body.config.url).toBe('https://beta.example/hook');
    expect((await sluice.api('GET', '/v1/templates/notify')).status).toBe(404);
    expect((await sluice.api('GET', '/v1/templates/notify?tenant=beta')).body.tenant).toBe('beta');
    expect((await sluice.api('GET', '/v1/templates')).body.templates.map((t: any) => t.tenant)).toEqual(['acme', 'beta']);
    // A message of acme made from "notify" is acme's, in acme's default queue.
    const sent = await sluice.api('POST', '/v1/messages', { template: 'notify', delayMs: 3_600_000 }, acme);
    expect(sent.status).toBe(201);
    expect(await stateOf(sluice, sent.body.id)).toMatchObject({ tenant: 'acme', queue: 'outbound.acme', url: 'https://acme.example/hook' });
    expect((await sluice.api('GET', `/v1/messages/${sent.body.id}`, undefined, beta)).status).toBe(404);
  });

  it('takes templates from sluice.yaml (tenant default), shown but changed only in the file', async () => {
    const sluice = await start({ templates: { ping: { url: 'https://example.com/ping/{{ vars.id }}', body: { id: '{{ vars.id }}' } } } });
    const listed = await sluice.api('GET', '/v1/templates/ping');
    expect(listed.body).toMatchObject({ fromFile: true, tenant: 'default', vars: ['id'] });
    expect((await sluice.api('PUT', '/v1/templates/ping', { url: 'https://example.com/' })).body.code).toBe('SLUICE_ERR_TEMPLATE_IN_FILE');
    expect((await sluice.api('DELETE', '/v1/templates/ping')).body.code).toBe('SLUICE_ERR_TEMPLATE_IN_FILE');
    const sent = await sluice.api('POST', '/v1/messages', { template: 'ping', vars: { id: 7 }, delayMs: 3_600_000 });
    expect(await stateOf(sluice, sent.body.id)).toMatchObject({ url: 'https://example.com/ping/7', body: '{"id":7}' });
  });
});

describe('messages made from a template', () => {
  it('fills variables at creation and secrets at send: the target gets both, storage and answers only placeholders', async () => {
    const sluice = await start();
    const sink = await echoSink();
    await sluice.api('PUT', '/v1/secrets/api_token', { value: TOKEN });
    await sluice.api('PUT', '/v1/templates/notify', notify(sink));
    const vars = { user: { id: 'a/b', email: 'ann@example.com', age: 42, name: '{{ secrets.api_token }}' } };
    const sent = await sluice.api('POST', '/v1/messages', { template: 'notify', vars });
    expect(sent.status).toBe(201);
    await eventually(() => sink.arrivals.length === 1, 'the delivery');
    const arrival = sink.arrivals[0]!;
    expect(arrival.url).toBe(`/users/a%2Fb/notify?token=${TOKEN}`);
    expect(arrival.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(arrival.headers['x-user']).toBe('ann@example.com');
    expect(arrival.headers[':sluice-secrets']).toBeUndefined();
    expect(JSON.parse(arrival.body.toString())).toEqual({ email: 'ann@example.com', age: 42, token: TOKEN, note: 'hi {{ secrets.api_token }}' });
    const message = await eventually(async () => {
      const found = await stateOf(sluice, sent.body.id);
      return found.state === 'delivered' && found.attempts?.length === 1 && found;
    }, 'delivered');
    expect(message.url).toBe(`${sink.origin}/users/a%2Fb/notify?token={{ secrets.api_token }}`);
    expect(message.headers.authorization).toBe('Bearer {{ secrets.api_token }}');
    expect(Object.keys(message.headers)).not.toContain(':sluice-secrets');
    expect(message.secrets).toEqual(['api_token']);
    expect(JSON.parse(message.body)).toEqual({ email: 'ann@example.com', age: 42, token: '{{ secrets.api_token }}', note: 'hi {{ secrets.api_token }}' });
    // The sink echoed the token three ways; the kept response has none of them.
    expect(message.attempts[0].response).toContain('[secret]');
    expect(JSON.stringify(message)).not.toContain(TOKEN);
    expect(JSON.stringify(message)).not.toContain(encodeURIComponent(TOKEN).slice(0, 12));
  });

  it('names every missing variable, an unknown template, and a secret not in the vault, storing nothing', async () => {
    const sluice = await start();
    const sink = await echoSink();
    await sluice.api('PUT', '/v1/templates/notify', notify(sink));
    const missing = await sluice.api('POST', '/v1/messages', { template: 'notify', vars: { user: { id: 1 } } });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((error: any) => error.field).sort()).toEqual(['vars.user.age', 'vars.user.email', 'vars.user.name']);
    const vars = { user: { id: 1, email: 'e', age: 1, name: 'n' } };
    expect((await sluice.api('POST', '/v1/messages', { template: 'notify', vars })).body.errors).toEqual([{ field: 'secrets.api_token', message: expect.stringMatching(/no such secret/) }]);
    expect((await sluice.api('POST', '/v1/messages', { template: 'nope', vars })).body.errors[0].field).toBe('template');
    expect((await sluice.api('POST', '/v1/messages', { template: 'notify', vars, url: 'https://x.example/' })).body.errors[0].message).toMatch(/unknown field/);
    expect((await sluice.api('POST', '/v1/messages', { template: 'notify', vars: [1] })).body.errors[0].field).toBe('vars');
    const split = await sluice.api('POST', '/v1/messages', { template: 'notify', vars: { user: { ...vars.user, email: 'a\r\nx-evil: 1' } } });
    expect(split.body.errors.map((error: any) => error.field)).toEqual(['secrets.api_token', 'template.headers.x-user']);
    const batch = await sluice.api('POST', '/v1/messages/batch', { messages: [{ url: `${sink.origin}/` }, { template: 'notify', vars: {} }, { template: 'notify', vars, deliverAt: 'tomorrow' }] });
    expect(batch.status).toBe(400);
    expect(batch.body.errors.map((error: any) => error.field)).toContain('messages.1.vars.user.id');
    expect((await sluice.api('GET', '/v1/messages')).body.messages).toEqual([]);
  });

  it('sends messages of a batch from templates and as given, in one commit, with an idempotency key', async () => {
    const sluice = await start();
    const sink = await echoSink();
    await sluice.api('PUT', '/v1/templates/ping', { url: `${sink.origin}/ping/{{ vars.n }}` });
    const batch = await sluice.api('POST', '/v1/messages/batch', {
      messages: [{ template: 'ping', vars: { n: 1 } }, { url: `${sink.origin}/plain` }, { template: 'ping', vars: { n: 2 }, idempotencyKey: 'k', priority: 9 }],
    });
    expect(batch.status).toBe(201);
    expect(batch.body.messages).toHaveLength(3);
    const again = await sluice.api('POST', '/v1/messages', { template: 'ping', vars: { n: 3 }, idempotencyKey: 'k' });
    expect([again.status, again.body.id]).toEqual([200, batch.body.messages[2].id]);
    await eventually(() => sink.arrivals.length === 3, 'three deliveries');
    expect(sink.arrivals.map((arrival) => arrival.url).sort()).toEqual(['/ping/1', '/ping/2', '/plain']);
    expect((await stateOf(sluice, batch.body.messages[2].id)).priority).toBe(9);
  });

  it('sends a secret changed while the message waited: the new value reaches the target', async () => {
    const sluice = await start();
    const sink = await echoSink();
    await sluice.api('PUT', '/v1/secrets/api_token', { value: 'old-token-value' });
    await sluice.api('PUT', '/v1/templates/call', { url: `${sink.origin}/call`, headers: { authorization: 'Bearer {{ secrets.api_token }}' } });
    const sent = await sluice.api('POST', '/v1/messages', { template: 'call', delayMs: 1_500 });
    expect(sent.body.state).toBe('scheduled');
    await sluice.api('PUT', '/v1/secrets/api_token', { value: 'new-token-value' });
    await eventually(() => sink.arrivals.length === 1, 'the delivery');
    expect(sink.arrivals[0]!.headers.authorization).toBe('Bearer new-token-value');
  });

  it('sends a waiting message after the vault key was rotated', async () => {
    const sluice = await start();
    const sink = await echoSink();
    await sluice.api('PUT', '/v1/secrets/api_token', { value: TOKEN });
    await sluice.api('PUT', '/v1/templates/call', { url: `${sink.origin}/call`, headers: { authorization: 'Bearer {{ secrets.api_token }}' } });
    const before = (await sluice.api('GET', '/v1/secrets/api_token')).body.keyVersion;
    await sluice.api('POST', '/v1/messages', { template: 'call', delayMs: 1_000 });
    const rotated = await sluice.api('POST', '/v1/secrets/rotate-key');
    expect(rotated.body).toMatchObject({ generated: true, resealed: 1, remaining: 0 });
    expect(rotated.body.keyVersion).not.toBe(before);
    expect((await sluice.api('GET', '/v1/secrets/api_token')).body.keyVersion).toBe(rotated.body.keyVersion);
    await eventually(() => sink.arrivals.length === 1, 'the delivery');
    expect(sink.arrivals[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('sends a message whose secret was deleted to dead, with an error naming the secret and not its value', async () => {
    const sluice = await start();
    const sink = await echoSink();
    await sluice.api('PUT', '/v1/secrets/api_token', { value: TOKEN });
    await sluice.api('PUT', '/v1/templates/call', { url: `${sink.origin}/call`, body: '{{ secrets.api_token }}' });
    const sent = await sluice.api('POST', '/v1/messages', { template: 'call', delayMs: 800 });
    await sluice.api('DELETE', '/v1/secrets/api_token');
    const dead = await eventually(async () => {
      const found = await stateOf(sluice, sent.body.id);
      return found.state === 'dead' && found;
    }, 'dead');
    expect(dead.lastError).toMatch(/secret "api_token" is not in the vault of tenant default/);
    expect(JSON.stringify(dead)).not.toContain(TOKEN);
    expect(sink.arrivals).toHaveLength(0);
  });

  it('fills secrets in the message\'s own tenant: another tenant\'s secret of the same name is never used', async () => {
    const sluice = await start();
    const sink = await echoSink();
    const acme = await tenantKey(sluice, 'acme');
    const beta = await tenantKey(sluice, 'beta');
    await sluice.api('PUT', '/v1/secrets/api_token', { value: 'acme-token' }, acme);
    await sluice.api('PUT', '/v1/secrets/api_token', { value: 'beta-token' }, beta);
    for (const key of [acme, beta]) await sluice.api('PUT', '/v1/templates/call', { url: `${sink.origin}/call`, headers: { authorization: '{{ secrets.api_token }}' } }, key);
    await sluice.api('POST', '/v1/messages', { template: 'call' }, acme);
    await sluice.api('POST', '/v1/messages', { template: 'call' }, beta);
    // The admin acting for acme uses acme's.
    await sluice.api('POST', '/v1/messages?tenant=acme', { template: 'call' });
    await eventually(() => sink.arrivals.length === 3, 'three deliveries');
    expect(sink.arrivals.map((arrival) => arrival.headers.authorization).sort()).toEqual(['acme-token', 'acme-token', 'beta-token']);
  });

  it('makes a schedule\'s messages from a template, its secrets filled at each send', async () => {
    const sluice = await start();
    const sink = await echoSink();
    await sluice.api('PUT', '/v1/secrets/api_token', { value: TOKEN });
    await sluice.api('PUT', '/v1/templates/remind', { url: `${sink.origin}/remind`, headers: { authorization: 'Bearer {{ secrets.api_token }}' }, body: { who: '{{ vars.who }}' } });
    const refused = await sluice.api('POST', '/v1/schedules', { name: 'bad', every: '1s', message: { template: 'remind', vars: {} } });
    expect([refused.status, refused.body.errors[0].field]).toEqual([400, 'message.vars.who']);
    const both = await sluice.api('POST', '/v1/schedules', { name: 'bad', every: '1s', message: { template: 'remind', url: 'https://x.example/' } });
    expect([both.status, both.body.errors[0].field]).toEqual([400, 'message.url']);
    const made = await sluice.api('POST', '/v1/schedules', { name: 'daily', every: '1s', message: { template: 'remind', vars: { who: 'ann' } } });
    expect(made.status).toBe(201);
    expect(made.body.message).toMatchObject({ template: 'remind', vars: { who: 'ann' } });
    await eventually(() => sink.arrivals.length >= 1, 'a tick delivered');
    expect(sink.arrivals[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(sink.arrivals[0]!.body.toString())).toEqual({ who: 'ann' });
    await sluice.api('DELETE', '/v1/schedules/daily');
  });
});

describe('signing and verifying with vault secrets', () => {
  const WHSEC = `whsec_${Buffer.from('a signing key of the vault').toString('base64')}`;

  it("signs a queue's deliveries with a whsec_ secret of its tenant's vault", async () => {
    const sluice = await start();
    const sink = await echoSink();
    const unknown = await sluice.api('PUT', '/v1/queues/signed', { mode: 'push', url: `${sink.origin}/hook`, signingSecret: '{{ secrets.whsec }}' });
    expect([unknown.status, unknown.body.errors[0].field]).toEqual([400, 'signingSecret']);
    await sluice.api('PUT', '/v1/secrets/whsec', { value: WHSEC });
    expect((await sluice.api('PUT', '/v1/queues/signed', { mode: 'push', url: `${sink.origin}/hook`, signingSecret: '{{ secrets.whsec }}' })).status).toBe(201);
    const sent = await sluice.api('POST', '/v1/messages', { queue: 'signed', body: 'hello' });
    await eventually(() => sink.arrivals.length === 1, 'the delivery');
    const headers = sink.arrivals[0]!.headers;
    const timestamp = Number(headers['webhook-timestamp']);
    expect(headers['webhook-signature']).toBe(signStandardWebhook(WHSEC, `msg_${sent.body.id}`, timestamp, Buffer.from('hello')));
    // Not a whsec_ key: the delivery goes to dead, naming it.
    await sluice.api('PUT', '/v1/secrets/whsec', { value: 'not-a-whsec-key' });
    const bad = await sluice.api('POST', '/v1/messages', { queue: 'signed', body: 'again' });
    const dead = await eventually(async () => {
      const found = await stateOf(sluice, bad.body.id);
      return found.state === 'dead' && found;
    }, 'dead');
    expect(dead.lastError).toMatch(/secret "whsec" of tenant default is not a whsec_/);
  });

  it("verifies a source's requests with a secret of its owner's vault, and answers 503 while it is missing", async () => {
    const sluice = await start({ queues: { inbox: { mode: 'pull' } } });
    const source = { queue: 'inbox', verify: { type: 'token', secret: '{{ secrets.hook_token }}', header: 'x-token' } };
    expect((await sluice.api('PUT', '/v1/sources/hooks', source)).body.errors[0]).toMatchObject({ field: 'verify.secret', message: expect.stringMatching(/no secret hook_token/) });
    expect((await sluice.api('PUT', '/v1/sources/hooks', { ...source, verify: { ...source.verify, secret: 'x{{ secrets.hook_token }}' } })).body.errors[0].field).toBe('verify.secret');
    await sluice.api('PUT', '/v1/secrets/hook_token', { value: 'the-hook-token' });
    expect((await sluice.api('PUT', '/v1/sources/hooks', source)).status).toBe(201);
    const post = (token: string) => fetch(`${sluice.url}/in/hooks`, { method: 'POST', headers: { 'x-token': token }, body: '{}' });
    expect((await post('the-hook-token')).status).toBe(202);
    expect((await post('{{ secrets.hook_token }}')).status).toBe(401);
    await sluice.api('PUT', '/v1/secrets/hook_token', { value: 'rotated-token' });
    expect((await post('the-hook-token')).status).toBe(401);
    expect((await post('rotated-token')).status).toBe(202);
    await sluice.api('DELETE', '/v1/secrets/hook_token');
    const unavailable = await post('rotated-token');
    expect([unavailable.status, (await unavailable.json()).code]).toEqual([503, 'SLUICE_ERR_SECRET_UNAVAILABLE']);
    expect(unavailable.headers.get('retry-after')).toBe('60');
    // A standard-webhooks source may name a vault secret too.
    await sluice.api('PUT', '/v1/secrets/sw', { value: WHSEC });
    expect((await sluice.api('PUT', '/v1/sources/sw', { queue: 'inbox', verify: { type: 'standard-webhooks', secret: '{{ secrets.sw }}' } })).status).toBe(201);
    const timestamp = Math.floor(Date.now() / 1000);
    const signed = await fetch(`${sluice.url}/in/sw`, {
      method: 'POST',
      headers: { 'webhook-id': 'msg_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signStandardWebhook(WHSEC, 'msg_1', timestamp, Buffer.from('{}')) },
      body: '{}',
    });
    expect(signed.status).toBe(202);
  });
});
