/**
 * The load of the crash loop, with its bookkeeping: ingest workers that remember every id Sluice
 * acknowledged (and the body it was given), a pull consumer that remembers what it pulled, and a
 * sink that remembers what was delivered — each keyed by message id, with the body tag to prove the
 * message is the one acknowledged and not another that reused its id.
 */
import { createServer } from 'node:http';
import { Agent, request } from 'undici';

/** Everything the proof needs, accumulated over all rounds. */
export function newLedger() {
  return {
    ingested: { pull: new Map(), push: new Map() }, // id → tag, for ingests answered 202
    pulled: new Map(), // id → { count, tag }
    delivered: new Map(), // id → { count, tag, path }
    staleAcks: new Set(), // ids whose ack came back stale (lease expired without a kill)
    ingestErrors: 0,
  };
}

function note(map, id, tag, extra = {}) {
  const seen = map.get(id);
  if (seen) {
    seen.count += 1;
    if (seen.tag !== tag) seen.mismatch = true;
  } else map.set(id, { count: 1, tag, ...extra });
}

function tagOf(text) {
  try {
    return JSON.parse(text).tag ?? null;
  } catch {
    return null;
  }
}

/** An HTTP sink on 127.0.0.1 (in this process) that records deliveries by `sluice-message-id`. */
export async function startCrashSink(ledger) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const id = String(req.headers['sluice-message-id'] ?? '');
      if (id) note(ledger.delivered, id, tagOf(Buffer.concat(chunks).toString('utf8')), { path: req.url });
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (path) => `http://127.0.0.1:${server.address().port}${path}`,
    stop: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/**
 * Start the load of one round against a live Sluice; `stop()` ends it and resolves once every
 * worker has returned (workers end on their own when the server dies).
 */
export function startLoad(url, key, ledger, { ingestWorkers, round, consume = true, ingest = true }) {
  const agent = new Agent({ connections: ingestWorkers * 2 + 2, keepAliveTimeout: 10_000 });
  const state = { running: true };
  const workers = [];
  if (ingest) {
    for (let w = 0; w < ingestWorkers; w += 1) {
      workers.push(ingestWorker(url, agent, ledger, state, 'pull', `${round}.${w}`));
      workers.push(ingestWorker(url, agent, ledger, state, 'push', `${round}.${w}`));
    }
  }
  if (consume) workers.push(consumer(url, key, agent, ledger, state));
  return {
    async stop() {
      state.running = false;
      await Promise.all(workers);
      await agent.destroy().catch(() => {});
    },
  };
}

async function ingestWorker(url, agent, ledger, state, kind, prefix) {
  const source = kind === 'pull' ? 'inbox' : 'hooks';
  for (let i = 0; state.running; i += 1) {
    const tag = `${kind}-${prefix}-${i}`;
    try {
      const response = await request(`${url}/in/${source}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tag, pad: 'x'.repeat(200) }),
      });
      const text = await response.body.text();
      if (response.statusCode === 202) ledger.ingested[kind].set(JSON.parse(text).id, tag);
      else ledger.ingestErrors += 1;
    } catch {
      return; // connection refused or reset: the server died; what it acknowledged is recorded
    }
  }
}

async function call(url, key, agent, path, body) {
  const response = await request(`${url}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const parsed = await response.body.json();
  if (response.statusCode !== 200) throw new Error(`${path} answered ${response.statusCode}`);
  return parsed;
}

async function consumer(url, key, agent, ledger, state) {
  while (state.running) {
    try {
      const { messages } = await call(url, key, agent, '/v1/queues/inbox/pull', { max: 50, waitMs: 200 });
      for (const m of messages) note(ledger.pulled, m.id, tagOf(m.body ?? ''));
      if (messages.length === 0) continue;
      const result = await call(url, key, agent, '/v1/queues/inbox/ack', { receipts: messages.map((m) => m.receipt) });
      for (const receipt of result.stale ?? []) ledger.staleAcks.add(String(receipt).split('.')[0]);
    } catch {
      return; // the server died (or failed): what was pulled is recorded, the rest stays leased
    }
  }
}
