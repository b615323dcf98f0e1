import Database from 'better-sqlite3';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice;
afterEach(async () => sluice?.stop());

function post(path: string, body: Buffer | string, headers: Record<string, string> = {}, method = 'POST') {
  return fetch(`${sluice.url}${path}`, { method, body, headers });
}

describe('POST /in/{source}', () => {
  it('stores the raw request and answers 202 with an id only after commit', async () => {
    sluice = await startSluice();
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7b]);
    const response = await post('/in/default/hooks/a%20b?x=1&y=2', bytes, { 'content-type': 'application/octet-stream', 'X-Trace': 'abc' });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const stored = await sluice.app.store.getMessage(id);
    expect(stored?.body.equals(bytes)).toBe(true);
    expect(stored?.path).toBe('/hooks/a%20b');
    expect(stored?.query).toBe('x=1&y=2');
    expect(stored?.headers).toContainEqual(['X-Trace', 'abc']);
    expect(stored?.state).toBe('ready');
    expect(stored?.method).toBe('POST');
  });

  it('gives ids that sort by arrival', async () => {
    sluice = await startSluice();
    const ids: number[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(Number(((await (await post('/in/default', `{"n":${i}}`)).json()) as { id: string }).id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('accepts PUT and PATCH, refuses DELETE with 405', async () => {
    sluice = await startSluice();
    expect((await post('/in/default', 'a', {}, 'PUT')).status).toBe(202);
    expect((await post('/in/default', 'a', {}, 'PATCH')).status).toBe(202);
    const refused = await fetch(`${sluice.url}/in/default`, { method: 'DELETE' });
    expect(refused.status).toBe(405);
    expect(((await refused.json()) as { code: string }).code).toBe('SLUICE_ERR_METHOD_NOT_ALLOWED');
    expect((await fetch(`${sluice.url}/in/default`)).status).toBe(405);
  });

  it('answers 404 problem+json for an unknown source and stores nothing', async () => {
    sluice = await startSluice();
    for (const path of ['/in/nope', '/in/..%2F..%2Fv1', '/in/', '/in/%00']) {
      const response = await post(path, '{}');
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(((await response.json()) as { code: string }).code).toBe('SLUICE_ERR_SOURCE_NOT_FOUND');
    }
    expect(sluice.app.queues.depth('default')).toBe(0);
  });

  it('refuses a body over maxBodyBytes with 413, declared or streamed, and stores nothing', async () => {
    sluice = await startSluice({ server: { maxBodyBytes: 1024 }, queues: { default: { mode: 'pull' } }, sources: { default: { queue: 'default' } } });
    const declared = await post('/in/default', Buffer.alloc(2048, 97));
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { code: string }).code).toBe('SLUICE_ERR_BODY_TOO_LARGE');
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request(`${sluice.url}/in/default`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(800, 97));
      req.write(Buffer.alloc(800, 97));
      req.end();
    });
    expect(streamed).toBe(413);
    await sluice.app.queues.refreshCounts();
    expect(sluice.app.queues.depth('default')).toBe(0);
  });

  it('refuses a failed signature with 401 and stores nothing', async () => {
    sluice = await startSluice({
      queues: { gh: { mode: 'pull' } },
      sources: { github: { queue: 'gh', verify: { type: 'github', secret: 'shh' } } },
    });
    const body = '{"action":"opened"}';
    const bad = await post('/in/github', body, { 'x-hub-signature-256': 'sha256=' + 'a'.repeat(64) });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { code: string }).code).toBe('SLUICE_ERR_SIGNATURE');
    expect((await post('/in/github', body)).status).toBe(401);
    const good = await post('/in/github', body, { 'x-hub-signature-256': `sha256=${createHmac('sha256', 'shh').update(body).digest('hex')}` });
    expect(good.status).toBe(202);
    await sluice.app.queues.refreshCounts();
    expect(sluice.app.queues.depth('gh')).toBe(1);
  });

  it('dedupes a repeated delivery id: same id back, nothing new stored', async () => {
    sluice = await startSluice({ queues: { gh: { mode: 'pull' } }, sources: { github: { queue: 'gh', dedupe: 'github' } } });
    const first = (await (await post('/in/github', '{}', { 'x-github-delivery': 'd-1' })).json()) as { id: string };
    const again = await post('/in/github', '{}', { 'x-github-delivery': 'd-1' });
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).toBe(first.id);
    const other = (await (await post('/in/github', '{}', { 'x-github-delivery': 'd-2' })).json()) as { id: string };
    expect(other.id).not.toBe(first.id);
    await sluice.app.queues.refreshCounts();
    expect(sluice.app.queues.depth('gh')).toBe(2);
  });

  it('answers 503 with Retry-After once the queue is over maxDepth, never 2xx', async () => {
    sluice = await startSluice({ queues: { small: { mode: 'pull', maxDepth: 3 } }, sources: { s: { queue: 'small' } } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await post('/in/s', '{}')).status);
    expect(statuses).toEqual([202, 202, 202, 503, 503]);
    const full = await post('/in/s', '{}');
    expect(full.headers.get('retry-after')).toBe('1');
    expect(((await full.json()) as { code: string }).code).toBe('SLUICE_ERR_QUEUE_FULL');
  });

  it('answers 503 with Retry-After, never 2xx, when storage cannot commit', async () => {
    sluice = await startSluice();
    // Another process holds the database's write lock: Sluice's commit waits out its busy timeout (5 s), then fails.
    const locker = new Database(sluice.app.loaded.sqlitePath);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const refused = await post('/in/default', '{}');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { code: string }).code).toBe('SLUICE_ERR_STORAGE_UNAVAILABLE');
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect((await post('/in/default', '{}')).status).toBe(202);
    const stored = await sluice.api('POST', '/v1/queues/default/pull', { max: 10 });
    expect(stored.body.messages).toHaveLength(1); // the refused request left nothing behind
  });

  it("answers with the source's configured response", async () => {
    sluice = await startSluice({
      queues: { q: { mode: 'pull' } },
      sources: { custom: { queue: 'q', response: { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok {id}' } } },
    });
    const response = await post('/in/custom', 'x');
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^ok \d+$/);
  });

  it('answers a Meta hub.challenge handshake where configured', async () => {
    sluice = await startSluice({ queues: { q: { mode: 'pull' } }, sources: { meta: { queue: 'q', handshake: { type: 'meta', verifyToken: 'tok' } } } });
    const ok = await fetch(`${sluice.url}/in/meta?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=12345`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('12345');
    const wrong = await fetch(`${sluice.url}/in/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=12345`);
    expect(wrong.status).toBe(403);
  });

  it('stores HTML as inert bytes and returns it escaped in JSON', async () => {
    sluice = await startSluice();
    const html = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const { id } = (await (await post('/in/default', html, { 'content-type': 'text/html' })).json()) as { id: string };
    const view = await sluice.api('GET', `/v1/messages/${id}`);
    expect(view.headers.get('content-type')).toContain('application/json');
    expect(view.body.body).toBe(html);
  });

  it('answers many concurrent requests, each with its own id', async () => {
    sluice = await startSluice();
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => post('/in/default', `{"i":${i}}`)));
    expect(responses.every((r) => r.status === 202)).toBe(true);
    const ids = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as { id: string }).id)));
    expect(ids.size).toBe(200);
  });

  it('groups messages that arrive while a commit is pending into one transaction', async () => {
    sluice = await startSluice();
    let commits = 0;
    sluice.app.writer.onCommit(() => (commits += 1));
    const message = (i: number) => ({
      queue: 'default', tenant: 'default', method: 'POST', path: '/', query: '', headers: [], body: Buffer.from(String(i)),
      domain: '', receivedAt: Date.now(), deliverAt: Date.now(), origin: 'test',
    });
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => sluice.app.writer.append(message(i))));
    expect(new Set(results.map((r) => r.id)).size).toBe(500);
    expect(commits).toBe(1);
  });
});

describe('a sender that hangs up mid-body', () => {
  it('stores nothing and keeps serving others', async () => {
    sluice = await startSluice();
    await new Promise<void>((resolve) => {
      const req = request(`${sluice.url}/in/default`, { method: 'POST', headers: { 'content-length': '1000' } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(100, 97), () => setTimeout(() => req.destroy(), 50));
      req.on('close', () => resolve());
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await sluice.app.queues.refreshCounts();
    expect(sluice.app.queues.depth('default')).toBe(0);
    expect((await post('/in/default', '{}')).status).toBe(202);
  });
});
