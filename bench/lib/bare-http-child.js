/**
 * The HTTP ceilings: bare node:http servers that do no storage, each in its own process; each sends
 * { port } to the parent over IPC once listening.
 * - default (ingest): reads the whole POST body and answers 202 with a small JSON body (like
 *   Sluice's `{"id":"..."}`), nothing else.
 * - `pull`: answers `POST …/pull {max}` with `max` messages shaped like Sluice's (1 KiB JSON body,
 *   the same fields), rendered per request, and `POST …/ack {receipts}` with `{acked, stale: []}`.
 */
import { createServer } from 'node:http';

const mode = process.argv[2] ?? 'ingest';
const PULLED_BODY = `{"seq":1,"pad":"${'x'.repeat(1024 - 18)}"}`; // 1 KiB, as the benchmark's messages
let served = 0;

function pullAnswer(input) {
  const messages = [];
  for (let i = 0; i < (input.max ?? 10); i += 1) {
    served += 1;
    messages.push({
      id: String(served),
      receipt: `${served}.0123456789abcdef`,
      attempt: 1,
      receivedAt: new Date().toISOString(),
      method: 'POST',
      path: '',
      query: '',
      headers: { host: '127.0.0.1', 'content-type': 'application/json', 'content-length': '1024' },
      contentType: 'application/json',
      body: PULLED_BODY,
    });
  }
  return { messages };
}

const server = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (mode === 'pull') chunks.push(chunk);
  });
  req.on('end', () => {
    if (mode === 'pull') {
      const input = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      const text = JSON.stringify(req.url.endsWith('/pull') ? pullAnswer(input) : { acked: input.receipts.length, stale: [] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    served += 1;
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(`{"id":"${served}","size":${size}}`);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ ready: true, port: server.address().port }));
process.on('disconnect', () => process.exit(0));
