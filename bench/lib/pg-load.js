/**
 * Load for the PostgreSQL scenarios, spread over one Sluice node or several: ingest with autocannon
 * (50 connections in all, split between the nodes), seeding a pull backlog with many parallel ingest
 * requests (the batch API takes push messages only), and pull + ack consumers. Every measure runs
 * under a CpuMeter (cpu.js) so it can be given per 10,000 messages for each process.
 */
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { metered } from './cpu.js';
import { jsonBody } from './prefill.js';
import { postJson } from './sluice-process.js';
import { fmt } from './stats.js';

export const INGEST = { connections: 50, seconds: 10, warmupSeconds: 2, bodyBytes: 1024 };
const BODY = jsonBody(INGEST.bodyBytes, 1).toString();

function cannon(url, options) {
  return autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, ...options });
}

/** `connections` split as evenly as possible between `parts`: 50 over 3 → [17, 17, 16]. */
export function split(connections, parts) {
  return Array.from({ length: parts }, (_, i) => Math.floor(connections / parts) + (i < connections % parts ? 1 : 0));
}

/** autocannon on every url at once for `seconds`; totals, and the worst instance's p99. */
async function hammerAll(urls, seconds) {
  const shares = split(INGEST.connections, urls.length);
  const results = await Promise.all(urls.map((url, i) => cannon(url, { connections: shares[i], duration: seconds })));
  const accepted = results.reduce((sum, r) => sum + r['2xx'], 0);
  return {
    accepted,
    byNode: results.map((r) => r['2xx']),
    rps: accepted / seconds,
    p99: Math.max(...results.map((r) => r.latency.p99)),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
  };
}

/**
 * Ingest to `/in/default` of every node (50 connections in all): a warm-up, then INGEST.seconds
 * under a CpuMeter whose clients are the nodes and this process (the load generator).
 * @returns {{ accepted, byNode: accepted by each node, rps, p99, non2xx, errors, cpu }}
 */
export async function ingestMeasured(nodes) {
  const urls = nodes.map((node) => `${node.url}/in/default`);
  await hammerAll(urls, INGEST.warmupSeconds);
  const { result, cpu } = await metered(clientsOf(nodes), () => hammerAll(urls, INGEST.seconds));
  return { ...result, cpu };
}

/** { node1: pid, …, bench: this process } for a CpuMeter. */
export function clientsOf(nodes) {
  const clients = Object.fromEntries(nodes.map((node, i) => [`node${i + 1}`, node.pid]));
  return { ...clients, bench: process.pid };
}

/**
 * Store `count` messages in pull queue `default` through `/in/default`, `connections` requests at a
 * time (exactly `count` are sent; any that is not answered 202 fails the seed), in `parts` equal runs
 * one after the other, so the ingest rate can be seen as the table grows.
 * @returns {{ seconds, rates: ingests/s of each part }}
 */
export async function seedPullQueue(node, count, { connections = 100, parts = 1 } = {}) {
  const started = performance.now();
  const rates = [];
  for (let part = 0; part < parts; part += 1) {
    const amount = Math.floor(count / parts) + (part < count % parts ? 1 : 0);
    const partStarted = performance.now();
    const result = await cannon(`${node.url}/in/default`, { connections, amount, timeout: 60 });
    if (result['2xx'] !== amount) {
      throw new Error(`seeding ${fmt(amount)} messages: ${fmt(result['2xx'])} answered 202, ${result.non2xx} other, ${result.errors} errors, ${result.timeouts} timeouts`);
    }
    rates.push((amount * 1000) / (performance.now() - partStarted));
  }
  return { seconds: (performance.now() - started) / 1000, rates };
}

/**
 * Consumers pulling `batch` from queue `default` and acking the receipts, in sequence, each on its
 * own keep-alive connection: `perNode` consumers on each node. Stops once `total` are acked in all,
 * a pull comes back empty, or `maxSeconds` pass.
 * @returns {{ acked, byNode: acked by each node, seconds, cpu }}
 */
export async function pullAckMeasured(nodes, { total, batch = 100, maxSeconds, perNode = 1 }) {
  const pools = nodes.flatMap((node) => Array.from({ length: perNode }, () => new Pool(node.url, { connections: 1 })));
  const deadline = performance.now() + maxSeconds * 1000;
  const ackedBy = nodes.map(() => 0);
  let acked = 0;
  let wanted = total;
  const consumer = async (pool, index) => {
    while (wanted > 0 && performance.now() < deadline) {
      const max = Math.min(batch, wanted);
      wanted -= max;
      const { messages } = await postJson(pool, '/v1/queues/default/pull', { max });
      wanted += max - messages.length;
      if (messages.length === 0) return;
      const result = await postJson(pool, '/v1/queues/default/ack', { receipts: messages.map((m) => m.receipt) });
      acked += result.acked;
      ackedBy[Math.floor(index / perNode)] += result.acked;
    }
  };
  try {
    const { seconds, cpu } = await metered(clientsOf(nodes), () => Promise.all(pools.map(consumer)));
    return { acked, byNode: ackedBy, seconds, cpu };
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

/** CPU seconds per 10,000 messages. */
export function per10k(seconds, messages) {
  return messages > 0 ? (seconds * 10_000) / messages : NaN;
}

/**
 * The CPU lines of a measure, per 10,000 messages (of all nodes together): each node, this process,
 * PostgreSQL's backends serving the nodes, its own processes, and every postgres process on the
 * machine. With `byNode` (messages each node handled), `ownNodes` gives each node's CPU per 10,000
 * of its own messages.
 */
export function cpuBreakdown(cpu, messages, byNode) {
  const nodes = Object.keys(cpu.processes).filter((label) => label !== 'bench');
  const backends = nodes.reduce((sum, label) => sum + cpu.postgresBackends[label], 0);
  return {
    nodes: Object.fromEntries(nodes.map((label) => [label, per10k(cpu.processes[label], messages)])),
    ownNodes: byNode ? Object.fromEntries(nodes.map((label, i) => [label, per10k(cpu.processes[label], byNode[i])])) : undefined,
    nodesTotal: per10k(nodes.reduce((sum, label) => sum + cpu.processes[label], 0), messages),
    bench: per10k(cpu.processes.bench, messages),
    pgBackends: per10k(backends, messages),
    pgShared: per10k(cpu.postgresShared, messages),
    pgOwn: per10k(backends + cpu.postgresShared, messages),
    pgAll: per10k(cpu.postgresAll, messages),
    pgBackendsPerNode: Object.fromEntries(nodes.map((label) => [label, per10k(cpu.postgresBackends[label], messages)])),
  };
}

/** "node1 0.41 s, node2 0.40 s" */
export function fmtPerNode(perNode) {
  return Object.entries(perNode).map(([label, s]) => `${label} ${fmt(s, 2)} s`).join(', ');
}
