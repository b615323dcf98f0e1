import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/loader.js';
import { Sluice } from '../../src/sluice.js';
import { Sink } from '../support/sink.js';
import { ADMIN_KEY, eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
  sluice = undefined;
  sink = undefined;
});

async function setup(config: Record<string, unknown> = {}) {
  sink = await new Sink(() => ({ status: 200 })).start();
  sluice = await startSluice({ network: { allowPrivate: true }, ...config });
  return { sink, sluice };
}

/** Send a raw body (bytes, not a JS string) to the API with the admin key. */
function postRaw(url: string, path: string, body: Buffer): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': body.length },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function storedMessages(sluice: TestSluice): Promise<unknown[]> {
  return (await sluice.api('GET', '/v1/messages')).body.messages;
}

describe('header maps', () => {
  it('refuses CR, LF, NUL and non-token names in message headers, naming the field, and stores nothing', async () => {
    const { sink, sluice } = await setup();
    const cases: [Record<string, string>, string][] = [
      [{ 'x-a': 'one\r\nx-injected: yes' }, 'headers.x-a'],
      [{ 'x-a': 'one\nx-injected: yes' }, 'headers.x-a'],
      [{ 'x-a': 'nul\u0000here' }, 'headers.x-a'],
      [{ 'x a': 'space in the name' }, 'headers.x a'],
      [{ 'x-a\r\nx-b': 'crlf in the name' }, 'headers.x-a'],
      [{ 'x:a': 'colon in the name' }, 'headers.x:a'],
    ];
    for (const [headers, field] of cases) {
      const one = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/`, headers });
      expect(one.status, JSON.stringify(headers)).toBe(400);
      expect(one.body.code).toBe('SLUICE_ERR_VALIDATION');
      expect(one.body.detail).toContain(field);
      const batch = await sluice.api('POST', '/v1/messages/batch', { messages: [{ url: `${sink.origin}/` }, { url: `${sink.origin}/`, headers }] });
      expect(batch.status).toBe(400);
      expect(batch.body.detail).toContain(`messages.1.${field}`);
    }
    expect(await storedMessages(sluice)).toEqual([]);
  });

  it('refuses bad headers in a schedule template, on create and on PATCH', async () => {
    const { sink, sluice } = await setup();
    const message = { url: `${sink.origin}/`, headers: { 'x-a': 'a\r\nb' } };
    const created = await sluice.api('POST', '/v1/schedules', { name: 's', every: '1h', message });
    expect(created.status).toBe(400);
    expect(created.body.detail).toContain('message.headers.x-a');
    expect((await sluice.api('POST', '/v1/schedules', { name: 's', every: '1h', message: { url: `${sink.origin}/` } })).status).toBe(201);
    const patched = await sluice.api('PATCH', '/v1/schedules/s', { message });
    expect(patched.status).toBe(400);
    expect(patched.body.detail).toContain('message.headers.x-a');
  });

  it('refuses a source response header with CR or LF in sluice.yaml, naming its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
    try {
      writeFileSync(
        join(dir, 'sluice.yaml'),
        stringify({ queues: { q: {} }, sources: { s: { queue: 'q', response: { headers: { 'x-a': 'a\r\nset-cookie: x' } } } } }),
      );
      expect(() => loadConfig({ configPath: join(dir, 'sluice.yaml'), dataDir: join(dir, 'data') }, { SLUICE_ADMIN_KEY: ADMIN_KEY }, dir)).toThrow(
        /sources\.s\.response\.headers\.x-a/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('delivers headers named constructor, __proto__ and toString exactly as given', async () => {
    const { sink, sluice } = await setup();
    // node:http leaves `__proto__` out of req.headers: read what came on the wire.
    let raw: string[] = [];
    sink.setHandler((req) => {
      raw = req.rawHeaders;
      return { status: 200 };
    });
    const headers = JSON.parse('{"constructor":"a","__proto__":"b","toString":"c","hasOwnProperty":"d"}');
    const created = await sluice.api('POST', '/v1/messages', JSON.stringify({ url: `${sink.origin}/`, headers }));
    expect(created.status).toBe(201);
    await eventually(() => sink.arrivals.length === 1, 'the delivery');
    const arrived = new Map<string, string>();
    for (let index = 0; index < raw.length; index += 2) arrived.set(raw[index]!.toLowerCase(), raw[index + 1]!);
    expect(arrived.get('constructor')).toBe('a');
    expect(arrived.get('__proto__')).toBe('b');
    expect(arrived.get('tostring')).toBe('c');
    expect(arrived.get('hasownproperty')).toBe('d');
    const shown = (await sluice.api('GET', `/v1/messages/${created.body.id}`)).body.headers;
    expect(Object.getOwnPropertyDescriptor(shown, '__proto__')?.value).toBe('b');
    expect(shown.constructor).toBe('a');
    expect(shown.tostring).toBe('c');
  });

  it('shows an ingested request with such headers exactly when it is pulled', async () => {
    const { sluice } = await setup({ queues: { q: { mode: 'pull' } }, sources: { s: { queue: 'q' } } });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${sluice.url}/in/s`, { method: 'POST', headers: { constructor: 'a', __proto__: 'b', toString: 'c' } as never });
      req.setHeader('__proto__', 'b');
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(202);
    const [message] = (await sluice.api('POST', '/v1/queues/q/pull', {})).body.messages;
    expect(message.headers.constructor).toBe('a');
    expect(Object.getOwnPropertyDescriptor(message.headers, '__proto__')?.value).toBe('b');
    expect(message.headers.tostring).toBe('c');
  });
});

describe('dates, crons and time zones', () => {
  it('refuses a calendar date that does not exist instead of rolling it over', async () => {
    const { sink, sluice } = await setup();
    for (const deliverAt of ['2026-02-30T10:00:00Z', '2026-04-31T10:00:00Z', '2027-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-06-01T24:00:00Z']) {
      const response = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/`, deliverAt });
      expect(response.status, deliverAt).toBe(400);
      expect(response.body.detail).toContain('deliverAt');
    }
    expect(await storedMessages(sluice)).toEqual([]);
  });

  it('refuses crons that can never fire, naming cron', async () => {
    const { sink, sluice } = await setup();
    const message = { url: `${sink.origin}/` };
    for (const cron of ['0 0 30 2 *', '0 0 31 4 *', '0 0 31 2,4,6,9,11 *', '0 0 0 31 4 ?']) {
      const response = await sluice.api('POST', '/v1/schedules', { name: 'never', cron, message });
      expect(response.status, cron).toBe(400);
      expect(response.body.detail).toMatch(/^cron: .*never runs/);
    }
    // 29 February comes every four years; a restricted weekday can fire alone.
    expect((await sluice.api('POST', '/v1/schedules', { name: 'leap', cron: '0 0 29 2 *', message })).status).toBe(201);
    expect((await sluice.api('POST', '/v1/schedules', { name: 'either', cron: '0 0 30 2 1', message })).status).toBe(201);
  });

  it('refuses an unknown time zone on create and on PATCH, for every kind of schedule', async () => {
    const { sink, sluice } = await setup();
    const message = { url: `${sink.origin}/` };
    const created = await sluice.api('POST', '/v1/schedules', { name: 'e', every: '1h', timezone: 'Mars/Olympus', message });
    expect(created.status).toBe(400);
    expect(created.body.detail).toContain('timezone');
    expect((await sluice.api('POST', '/v1/schedules', { name: 'e', every: '1h', message })).status).toBe(201);
    expect((await sluice.api('POST', '/v1/schedules', { name: 'c', cron: '0 9 * * *', message })).status).toBe(201);
    for (const name of ['e', 'c']) {
      const patched = await sluice.api('PATCH', `/v1/schedules/${name}`, { timezone: 'Mars/Olympus' });
      expect(patched.status, name).toBe(400);
      expect(patched.body.detail).toContain('timezone');
      expect((await sluice.api('GET', `/v1/schedules/${name}`)).body.timezone).toBe('UTC');
    }
  });
});

describe('JSON bodies', () => {
  it('answers 400 to a deeply nested body, and accepts nesting up to the limit', async () => {
    const { sink, sluice } = await setup();
    const deep = `{"url":"${sink.origin}/","body":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const response = await sluice.api('POST', '/v1/messages', deep);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_ERR_JSON_TOO_DEEP');
    const sixtyFive = `{"url":"${sink.origin}/","body":${'['.repeat(64)}${']'.repeat(64)}}`;
    expect((await sluice.api('POST', '/v1/messages', sixtyFive)).status).toBe(400);
    // A string that ends in an escaped backslash ends there: what follows is counted.
    const afterBackslash = `{"url":"${sink.origin}/","body":["x\\\\",${'['.repeat(64)}${']'.repeat(64)}]}`;
    expect(JSON.parse(afterBackslash).body[0]).toBe('x\\');
    expect((await sluice.api('POST', '/v1/messages', afterBackslash)).body.code).toBe('SLUICE_ERR_JSON_TOO_DEEP');
    // Brackets inside strings are text, not nesting.
    const inString = JSON.stringify({ url: `${sink.origin}/`, body: { text: '[{'.repeat(1_000), quote: '\\"[[[' } });
    expect((await sluice.api('POST', '/v1/messages', inString)).status).toBe(201);
    const allowed = `{"url":"${sink.origin}/","body":${'['.repeat(63)}${']'.repeat(63)}}`;
    expect((await sluice.api('POST', '/v1/messages', allowed)).status).toBe(201);
    expect(await storedMessages(sluice)).toHaveLength(2);
  });

  it('refuses a body that is not valid UTF-8 instead of storing replacement characters', async () => {
    const { sink, sluice } = await setup();
    const body = Buffer.concat([Buffer.from(`{"url":"${sink.origin}/","body":"caf`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const response = await postRaw(sluice.url, '/v1/messages', body);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_ERR_INVALID_JSON');
    expect(response.body.detail).toContain('UTF-8');
    const good = await postRaw(sluice.url, '/v1/messages', Buffer.from(JSON.stringify({ url: `${sink.origin}/`, body: 'café ✓' })));
    expect(good.status).toBe(201);
    expect(await storedMessages(sluice)).toHaveLength(1);
  });
});

describe('request headers over the limit', () => {
  it('answer 431 as problem+json and close the connection', async () => {
    const { sluice } = await setup();
    const { port } = new URL(sluice.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
      socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString()) : reject(error)));
      socket.write(`GET /v1/queues HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(100 * 1024)}\r\n\r\n`);
    });
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toMatch(/content-type: application\/problem\+json/i);
    expect(head).toMatch(/connection: close/i);
    expect(JSON.parse(body!)).toMatchObject({ status: 431, code: 'SLUICE_ERR_HEADERS_TOO_LARGE' });
  });

  it('keep 400 for other malformed requests, as problem+json', async () => {
    const { sluice } = await setup();
    const { port } = new URL(sluice.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
      socket.on('error', reject);
      socket.write('NOT HTTP AT ALL\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ code: 'SLUICE_ERR_BAD_REQUEST' });
  });
});

describe('queue urls with a private literal host', () => {
  it('are refused by PUT /v1/queues/{name} unless network.allowPrivate lets them through', async () => {
    sluice = await startSluice();
    for (const url of ['http://[::1]/', 'http://169.254.169.254/', 'http://10.0.0.1/', 'http://[::ffff:127.0.0.1]/', 'http://127.1/', 'http://0x7f000001/']) {
      const response = await sluice.api('PUT', '/v1/queues/q', { mode: 'push', url });
      expect(response.status, url).toBe(400);
      expect(response.body.detail).toMatch(/^url: /);
      expect((await sluice.api('GET', '/v1/queues/q')).status).toBe(404);
    }
    expect((await sluice.api('PUT', '/v1/queues/q', { mode: 'push', url: 'https://example.com/' })).status).toBe(201);
    await sluice.stop();
    sluice = await startSluice({ network: { allowPrivate: true } });
    expect((await sluice.api('PUT', '/v1/queues/q', { mode: 'push', url: 'http://127.0.0.1:9/' })).status).toBe(201);
    // Cloud metadata stays refused even then.
    expect((await sluice.api('PUT', '/v1/queues/m', { mode: 'push', url: 'http://169.254.169.254/' })).status).toBe(400);
  });

  it('in sluice.yaml stop the start with a ConfigError naming queues.<name>.url', async () => {
    await expect(startSluice({ queues: { hooks: { mode: 'push', url: 'http://[::1]:8080/' } } })).rejects.toThrow(ConfigError);
    await expect(startSluice({ queues: { hooks: { mode: 'push', url: 'http://10.1.2.3/' } } })).rejects.toThrow(/queues\.hooks\.url: 10\.1\.2\.3 is a private address/);
    sluice = await startSluice({ network: { allowPrivate: ['127.0.0.1'] }, queues: { hooks: { mode: 'push', url: 'http://127.0.0.1:9/' } } });
    expect(sluice.app).toBeInstanceOf(Sluice);
  });
});
