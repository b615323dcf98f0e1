/**
 * A benchmark sink in its own process (so its work does not share an event loop with the load
 * generator): answers every request at once (or after `delayMs`), and records what the limits and
 * lateness checks need — arrival times with sub-millisecond precision taken when the request head
 * arrives (and the same instant as Date.now(), the clock Sluice schedules by), requests in flight, and optionally `seq`/`deliverAt` read from a JSON body.
 *
 * Started with one JSON argument: { host, port, delayMs, close, recordBody, status, replySeq }.
 * With `replySeq` (and `recordBody`), it answers a JSON body `{"n": <the request body's seq>}`, so a
 * workflow step can read a value from the step before it; `n` of each request's body is recorded too.
 * Parent → child IPC: { id, cmd: 'count' | 'stats' | 'reset' }; the child answers { id, ... }.
 */
import { createServer } from 'node:http';

const options = { host: '127.0.0.1', port: 0, delayMs: 0, close: false, recordBody: false, status: 200, ...JSON.parse(process.argv[2] ?? '{}') };
const state = fresh();

function fresh() {
  return { count: 0, inFlight: 0, maxInFlight: 0, times: [], walls: [], seqs: [], deliverAts: [], ns: [], hosts: new Set() };
}

function now() {
  return performance.timeOrigin + performance.now();
}

function onRequest(req, res) {
  const at = now();
  const wall = Date.now();
  state.inFlight += 1;
  state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
  const chunks = [];
  req.on('data', (chunk) => {
    if (options.recordBody) chunks.push(chunk);
  });
  req.on('end', () => {
    const seq = record(at, wall, req, chunks);
    const answer = () => {
      state.inFlight -= 1;
      const text = options.replySeq ? JSON.stringify({ n: seq }) : 'ok';
      const headers = { 'content-length': String(Buffer.byteLength(text)) };
      if (options.replySeq) headers['content-type'] = 'application/json';
      if (options.close) headers.connection = 'close';
      res.writeHead(options.status, headers);
      res.end(text);
    };
    if (options.delayMs > 0) setTimeout(answer, options.delayMs);
    else answer();
  });
}

/** Record one arrival; returns the body's seq (-1 when it has none or is not recorded). */
function record(at, wall, req, chunks) {
  state.count += 1;
  state.times.push(at);
  state.walls.push(wall);
  if (options.countHosts) state.hosts.add(req.headers.host);
  if (!options.recordBody) return -1;
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    body = {};
  }
  const seq = typeof body?.seq === 'number' ? body.seq : -1;
  state.seqs.push(seq);
  state.deliverAts.push(typeof body?.deliverAt === 'number' ? body.deliverAt : -1);
  state.ns.push(typeof body?.n === 'number' ? body.n : -1);
  return seq;
}

function answer(message) {
  if (message.cmd === 'count') return { count: state.count, inFlight: state.inFlight };
  if (message.cmd === 'reset') {
    Object.assign(state, fresh());
    return { ok: true };
  }
  const { hosts, ...rest } = state;
  return { ...rest, distinctHosts: hosts.size };
}

const server = createServer(onRequest);
server.keepAliveTimeout = 60_000;
server.maxRequestsPerSocket = 0;
server.listen(options.port, options.host, () => {
  process.send({ ready: true, port: server.address().port });
});
process.on('message', (message) => process.send({ id: message.id, ...answer(message) }));
process.on('disconnect', () => process.exit(0));
