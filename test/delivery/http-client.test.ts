import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { DeliveryClient, type DeliveryRequest } from '../../src/delivery/http-client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Sink {
  port: number;
  seen: Seen[];
  connections: number;
  server: Server;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A real HTTP server on 127.0.0.1 that records what reached it, then answers with `respond`. */
async function startSink(respond: RequestListener): Promise<Sink> {
  const sink: Sink = { port: 0, seen: [], connections: 0, server: createServer() };
  sink.server.on('connection', () => sink.connections++);
  sink.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      sink.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      respond(req, res);
    });
  });
  await new Promise<void>((resolve) => sink.server.listen(0, '127.0.0.1', resolve));
  sink.port = (sink.server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise((resolve) => {
        sink.server.closeAllConnections();
        sink.server.close(() => resolve());
      }),
  );
  return sink;
}

function client(options: ConstructorParameters<typeof DeliveryClient>[0]): DeliveryClient {
  const created = new DeliveryClient(options);
  cleanups.push(() => created.close());
  return created;
}

function post(url: string, extra: Partial<DeliveryRequest> = {}): DeliveryRequest {
  return { url, method: 'POST', headers: {}, body: Buffer.from('{"hello":"world"}'), ...extra };
}

describe('DeliveryClient against real sinks', () => {
  it('returns status, headers and the first 1 KiB of a larger body, and reuses the connection', async () => {
    const sink = await startSink((_req, res) => {
      res.setHeader('x-sink', 'yes');
      res.end('a'.repeat(5000));
    });
    const delivery = client({ allowPrivate: ['127.0.0.1'] });
    const first = await delivery.send(post(`http://127.0.0.1:${sink.port}/hook?x=1`));
    expect(first.error).toBeUndefined();
    expect(first.status).toBe(200);
    expect(first.headers?.['x-sink']).toBe('yes');
    expect(first.body).toBe('a'.repeat(1024));
    const second = await delivery.send(post(`http://127.0.0.1:${sink.port}/hook`));
    expect(second.status).toBe(200);
    expect(sink.seen.map((seen) => seen.url)).toEqual(['/hook?x=1', '/hook']);
    expect(sink.connections).toBe(1);
  });

  it('keeps only the head of a body too large to drain and still answers', async () => {
    const sink = await startSink((_req, res) => res.end('b'.repeat(2 * 1024 * 1024)));
    const delivery = client({ allowPrivate: true, maxResponseBytes: 10 });
    const result = await delivery.send(post(`http://127.0.0.1:${sink.port}/`));
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(200);
    expect(result.body).toBe('b'.repeat(10));
  });

  it('does not follow a redirect: a 302 is just a status', async () => {
    const sink = await startSink((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.end('followed');
    });
    const result = await client({ allowPrivate: true }).send(post(`http://127.0.0.1:${sink.port}/start`));
    expect(result.status).toBe(302);
    expect(result.headers?.location).toBe('/elsewhere');
    expect(sink.seen.map((seen) => seen.url)).toEqual(['/start']);
  });

  it('times out a sink that never finishes its body, keeping the status it had sent', async () => {
    const sink = await startSink((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const result = await client({ allowPrivate: true }).send(post(`http://127.0.0.1:${sink.port}/`, { responseTimeoutMs: 300 }));
    expect(result.error?.code).toBe('timeout');
    expect(result.error?.message).toContain('300 ms');
    expect(result.status).toBe(200);
  });

  it('times out a sink that never answers', async () => {
    const sink = await startSink(() => undefined);
    const result = await client({ allowPrivate: true }).send(post(`http://127.0.0.1:${sink.port}/`, { responseTimeoutMs: 300 }));
    expect(result.error?.code).toBe('timeout');
    expect(result.status).toBeUndefined();
  });

  it('reports a server that never completes the handshake as connect_timeout', async () => {
    // A listener in a stopped process with a full accept queue: the kernel drops further SYNs.
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { console.log(this.address().port) })"]);
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (data) => resolve(Number(String(data).trim()))));
    process.kill(child.pid!, 'SIGSTOP');
    const fillers = Array.from({ length: 4 }, () => connect(port, '127.0.0.1').on('error', () => {}));
    cleanups.push(async () => {
      for (const filler of fillers) filler.destroy();
      process.kill(child.pid!, 'SIGCONT');
      child.kill();
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const result = await client({ allowPrivate: true }).send(post(`http://127.0.0.1:${port}/`, { connectTimeoutMs: 300 }));
    expect(result.error).toEqual({ code: 'connect_timeout', message: 'could not connect within 300 ms' });
    expect(result.status).toBeUndefined();
  });

  it('reports a refused connection as a network error', async () => {
    const sink = await startSink((_req, res) => res.end());
    const closedPort = sink.port;
    await new Promise<void>((resolve) => sink.server.close(() => resolve()));
    const result = await client({ allowPrivate: true }).send(post(`http://127.0.0.1:${closedPort}/`));
    expect(result.error?.code).toBe('network');
    expect(result.error?.message).toContain('ECONNREFUSED');
  });

  it('drops hop-by-hop headers, sets content-length from the body and adds no content-type', async () => {
    const sink = await startSink((_req, res) => res.end('ok'));
    const result = await client({ allowPrivate: true }).send({
      url: `http://127.0.0.1:${sink.port}/h`,
      method: 'PUT',
      body: Buffer.from('hello'),
      headers: {
        Connection: 'keep-alive, X-Per-Hop',
        'Keep-Alive': 'timeout=5',
        'Transfer-Encoding': 'chunked',
        Host: 'evil.example',
        'Content-Length': '999',
        Upgrade: 'websocket',
        'Proxy-Authorization': 'Basic eDp5',
        TE: 'trailers',
        Trailer: 'x-checksum',
        'X-Per-Hop': 'drop me',
        'X-Custom': 'kept',
        Expect: '100-continue',
      },
    });
    expect(result.status).toBe(200);
    const seen = sink.seen[0]!;
    expect(seen.method).toBe('PUT');
    expect(seen.body).toBe('hello');
    expect(seen.headers.host).toBe(`127.0.0.1:${sink.port}`);
    expect(seen.headers['content-length']).toBe('5');
    expect(seen.headers['x-custom']).toBe('kept');
    for (const dropped of ['transfer-encoding', 'upgrade', 'proxy-authorization', 'te', 'trailer', 'x-per-hop', 'expect', 'keep-alive']) {
      expect(seen.headers[dropped], dropped).toBeUndefined();
    }
    expect(seen.headers['content-type']).toBeUndefined();
  });

  it('sends URL credentials as Basic auth', async () => {
    const sink = await startSink((_req, res) => res.end());
    await client({ allowPrivate: true }).send(post(`http://us%20er:p%40ss@127.0.0.1:${sink.port}/`));
    expect(sink.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('us er:p@ss').toString('base64')}`);
  });

  it('measures latency with the given clock', async () => {
    const clock = new ManualClock(1_000);
    const sink = await startSink((_req, res) => {
      clock.advance(250);
      res.end();
    });
    const result = await client({ allowPrivate: true, clock }).send(post(`http://127.0.0.1:${sink.port}/`));
    expect(result.latencyMs).toBe(250);
  });

  it('answers invalid URLs and a closed client with a result, never a throw', async () => {
    const delivery = new DeliveryClient({ allowPrivate: true });
    expect((await delivery.send(post('not a url'))).error?.code).toBe('invalid_url');
    expect((await delivery.send(post('ftp://example.com/'))).error).toEqual({
      code: 'invalid_url',
      message: 'only http and https targets can be delivered to, not ftp:',
    });
    expect((await delivery.send(post('http://127.0.0.1:1/', { method: 'BAD METHOD' }))).error?.code).toBe('network');
    await delivery.close();
    expect((await delivery.send(post('http://127.0.0.1:1/'))).error?.code).toBe('network');
  });
});

describe('DeliveryClient SSRF guard', () => {
  it.each([
    ['http://127.0.0.1:PORT/', 'loopback'],
    ['http://[::ffff:127.0.0.1]:PORT/', 'loopback'],
    ['http://0x7f.1:PORT/', 'loopback'],
    ['http://2130706433:PORT/', 'loopback'],
    ['http://[::1]:PORT/', 'loopback'],
    ['http://10.0.0.1/', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://localhost:PORT/', 'loopback'],
  ])('refuses %s (%s) when private targets are not allowed', async (template, addressClass) => {
    const sink = await startSink((_req, res) => res.end());
    const result = await client({ allowPrivate: false }).send(post(template.replace('PORT', String(sink.port))));
    expect(result.error?.code).toBe('ssrf_refused');
    expect(result.error?.message).toContain(`(${addressClass} address)`);
    expect(sink.connections).toBe(0);
  });

  it('allows localhost when listed by host, and by host:port', async () => {
    const sink = await startSink((_req, res) => res.end('in'));
    const url = `http://localhost:${sink.port}/`;
    expect((await client({ allowPrivate: ['localhost'] }).send(post(url))).status).toBe(200);
    expect((await client({ allowPrivate: [`localhost:${sink.port}`] }).send(post(url))).status).toBe(200);
    expect((await client({ allowPrivate: [`127.0.0.1:${sink.port}`] }).send(post(`http://127.0.0.1:${sink.port}/`))).status).toBe(200);
  });

  it('does not let a host:port rule open another port of that host', async () => {
    const sink = await startSink((_req, res) => res.end());
    const other = sink.port === 65535 ? sink.port - 1 : sink.port + 1;
    const delivery = client({ allowPrivate: [`localhost:${other}`, `127.0.0.1:${other}`] });
    const byName = await delivery.send(post(`http://localhost:${sink.port}/`));
    const byIp = await delivery.send(post(`http://127.0.0.1:${sink.port}/`));
    expect(byName.error?.code).toBe('ssrf_refused');
    expect(byIp.error?.code).toBe('ssrf_refused');
    expect(sink.connections).toBe(0);
  });
});
