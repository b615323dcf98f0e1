import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest, type RawRequest } from '../support/raw-http.js';
import { ADMIN_KEY, eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice;
const open: Socket[] = [];
afterEach(async () => {
  for (const socket of open.splice(0)) socket.destroy();
  await sluice?.stop();
});

const problem = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: string };
const header = (answer: string, name: string) => new RegExp(`^${name}: (.*)$`, 'im').exec(answer)?.[1]?.trim();

/** A request that declares `declared` bytes of body and sends `sent` of them, then stalls. */
function stalled(path: string, declared: number, sent: number, headers = ''): RawRequest {
  const request = rawRequest(sluice.url, `POST ${path} HTTP/1.1\r\ncontent-length: ${declared}\r\n${headers}`, Buffer.alloc(sent, 97));
  open.push(request.socket);
  return request;
}

describe('authentication before the body', () => {
  it('answers a bad API key from the headers, never waits for the body, and closes the connection', async () => {
    sluice = await startSluice();
    const request = stalled('/v1/messages', 1_048_576, 1_024, `authorization: Bearer wrong\r\ncontent-type: application/json`);
    expect(await request.status).toBe(401);
    const answer = await request.answer; // the server closed it: the rest of the body is never read
    expect(problem(answer).code).toBe('SLUICE_ERR_UNAUTHORIZED');
    expect(header(answer, 'connection')).toBe('close');
  });

  it('refuses a wrong source token from the headers, before the body', async () => {
    sluice = await startSluice({
      queues: { q: { mode: 'pull' } },
      sources: { tok: { queue: 'q', verify: { type: 'token', header: 'x-token', secret: 'right-token-value' } } },
    });
    const request = stalled('/in/tok', 1_048_576, 1_024, 'x-token: wrong');
    expect(await request.status).toBe(401);
    expect(problem(await request.answer).code).toBe('SLUICE_ERR_SIGNATURE');
    // The right token is accepted, and its body does not count as unauthenticated.
    const ok = await fetch(`${sluice.url}/in/tok`, { method: 'POST', body: 'x', headers: { 'x-token': 'right-token-value' } });
    expect(ok.status).toBe(202);
  });
});

describe('bodies still arriving', () => {
  it('200 slow senders hold at most maxPendingBodyBytes; the oldest are cut with 503 + Retry-After; an honest sender still gets 202', async () => {
    const room = 256 * 1024;
    sluice = await startSluice({
      server: { maxBodyBytes: 65_536, maxPendingBodyBytes: room, bodyTimeoutMs: 600_000 },
      queues: { q: { mode: 'pull' } },
      sources: { open: { queue: 'q' }, signed: { queue: 'q', verify: { type: 'github', secret: 'a-github-secret' } } },
    });
    // Each declares 64 KiB, sends 16 KiB and stalls: 3.2 MiB if all were held.
    const slow = Array.from({ length: 200 }, (_, i) => stalled(i % 2 === 0 ? '/in/open' : '/in/signed', 65_536, 16_384));
    const cut: RawRequest[] = [];
    for (const request of slow) void request.status.then((status) => status === 503 && cut.push(request));
    await eventually(() => cut.length + sluice.app.bodies.pending >= 200 && sluice.app.bodies.held > room - 16_384, 'every slow body held or cut');
    expect(sluice.app.bodies.held).toBeLessThanOrEqual(room);
    expect(cut.length).toBeGreaterThanOrEqual(200 - room / 16_384);
    const answer = await cut[0]!.answer; // and its connection closed
    expect(problem(answer).code).toBe('SLUICE_ERR_OVERLOADED');
    expect(header(answer, 'retry-after')).toBe('1');

    const honest = await fetch(`${sluice.url}/in/open`, { method: 'POST', body: JSON.stringify({ order: 42 }) });
    expect(honest.status).toBe(202);
    expect(sluice.app.bodies.held).toBeLessThanOrEqual(room);
  });

  it('a body not complete within bodyTimeoutMs gets 408 and its connection closes, on ingest and on the API', async () => {
    sluice = await startSluice({ server: { bodyTimeoutMs: 200 }, queues: { q: { mode: 'pull' } }, sources: { open: { queue: 'q' } } });
    const ingest = stalled('/in/open', 100, 10);
    const api = stalled('/v1/messages', 100, 10, `authorization: Bearer ${ADMIN_KEY}\r\ncontent-type: application/json`);
    for (const request of [ingest, api]) {
      expect(await request.status).toBe(408);
      expect(problem(await request.answer).code).toBe('SLUICE_ERR_BODY_TIMEOUT');
    }
    expect(sluice.app.bodies.pending).toBe(0);
    expect((await fetch(`${sluice.url}/in/open`, { method: 'POST', body: 'in time' })).status).toBe(202);
  });
});

describe('connections', () => {
  it('closes a connection beyond maxConnections as it comes, and takes new ones once there is room', async () => {
    sluice = await startSluice({ server: { maxConnections: 20 } });
    const port = Number(new URL(sluice.url).port);
    const closed = new Set<Socket>();
    for (let i = 0; i < 21; i += 1) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('close', () => closed.add(socket));
      open.push(socket);
    }
    await eventually(() => closed.size === 1, 'one connection past the limit to be closed');
    for (const socket of open.splice(0)) socket.destroy();
    const healthy = () => fetch(`${sluice.url}/healthz`).then((response) => response.status === 200, () => false);
    await eventually(healthy, 'a new connection to be served once the others closed');
  });
});

describe('configuration', () => {
  it('refuses a body limit larger than the room for pending bodies, naming the key', async () => {
    await expect(startSluice({ server: { maxBodyBytes: 2_000_000, maxPendingBodyBytes: 1_000_000 } })).rejects.toThrow(/server\.maxBodyBytes/);
  });
});
