/**
 * PostgreSQL — three nodes against one on one database: ingest through all of them (50 connections
 * in all, split between the nodes), then pull + ack through all of them (3 consumers in all), with
 * the CPU each process spends per 10,000 messages. On this 2-core machine three nodes cannot beat one
 * (they share the cores with PostgreSQL and the load generator); what the scenario gives is each
 * process's cost per message, and from it what N machines would carry.
 */
import { analyzeSchema, postgresUnreachable, skipped, withPostgresNodes } from '../lib/pg.js';
import { cpuBreakdown, fmtPerNode, INGEST, ingestMeasured, pullAckMeasured } from '../lib/pg-load.js';
import { loadNow } from '../lib/machine.js';
import { fmt, fmtRatios, medianRound } from '../lib/stats.js';

const ROUNDS = 3;
const CONSUMERS = 3;
const PULL_SECONDS = 10;
/** Cores of the machines the projection assumes (this one has 2). */
const CORES = 2;

/** Ingest then pull + ack on `count` nodes of a fresh schema. */
function measureCluster(count) {
  return withPostgresNodes(count, {}, async (nodes, schema) => {
    const ingest = await ingestMeasured(nodes);
    await analyzeSchema(schema);
    const pull = await pullAckMeasured(nodes, { total: Infinity, batch: 100, maxSeconds: PULL_SECONDS, perNode: CONSUMERS / count });
    return {
      ingest: { ...ingest, cost: cpuBreakdown(ingest.cpu, ingest.accepted, ingest.byNode) },
      pull: { ...pull, rate: pull.acked / pull.seconds, cost: cpuBreakdown(pull.cpu, pull.acked, pull.byNode) },
    };
  });
}

/**
 * What N machines of CORES cores carry when a node costs `node` s and PostgreSQL `pg` s of CPU per
 * 10,000 messages: N node machines on one PostgreSQL machine carry min(N × per node, per PostgreSQL).
 */
function projection(label, node, pg) {
  const perNode = (CORES * 10_000) / node;
  const perPg = (CORES * 10_000) / pg;
  const carried = [1, 2, 3, 4].map((n) => `${n} → ${fmt(Math.min(n * perNode, perPg))}/s`).join(', ');
  return `${label}: node ${fmt(node, 2)} s, PostgreSQL ${fmt(pg, 2)} s per 10,000 → a node machine ≈ ${fmt(perNode)}/s, the PostgreSQL machine ≈ ${fmt(perPg)}/s; N node machines carry ${carried}; PostgreSQL is the limit from N ≈ ${fmt(perPg / perNode, 1)}.`;
}

function costRows(what, one, three) {
  return [
    { measure: `${what}: each Sluice node's CPU per 10,000 of its own messages`, value: fmtPerNode(three.ownNodes), baseline: `${fmt(one.ownNodes.node1, 2)} s (one node)`, ratio: '', target: '', pass: undefined },
    { measure: `${what}: PostgreSQL CPU per 10,000 (backends serving the nodes + PostgreSQL's own processes)`, value: `${fmt(three.pgOwn, 2)} s (backends: ${fmtPerNode(three.pgBackendsPerNode)}; own processes ${fmt(three.pgShared, 2)} s)`, baseline: `${fmt(one.pgOwn, 2)} s (one node)`, ratio: '', target: '', pass: undefined },
    { measure: `${what}: PostgreSQL CPU per 10,000, every postgres process`, value: `${fmt(three.pgAll, 2)} s`, baseline: `${fmt(one.pgAll, 2)} s (one node)`, ratio: '', target: '', pass: undefined },
    { measure: `${what}: load generator (this process) CPU per 10,000`, value: `${fmt(three.bench, 2)} s`, baseline: `${fmt(one.bench, 2)} s (one node)`, ratio: '', target: '', pass: undefined },
  ];
}

export default {
  id: 'pg-nodes',
  section: 'PostgreSQL',
  title: 'Three nodes on one PostgreSQL database vs one node',
  async run(ctx) {
    const why = await postgresUnreachable();
    if (why) return skipped(why);
    const loadBefore = loadNow();
    const rounds = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      const one = await measureCluster(1);
      const three = await measureCluster(3);
      ctx.log(`pg-nodes round ${i + 1}: ingest ${fmt(three.ingest.rps)}/s on 3 vs ${fmt(one.ingest.rps)}/s on 1; pull+ack ${fmt(three.pull.rate)}/s vs ${fmt(one.pull.rate)}/s (load ${loadNow()})`);
      rounds.push({ one, three });
    }
    const ingest = medianRound(rounds, (r) => r.three.ingest.rps / r.one.ingest.rps);
    const pull = medianRound(rounds, (r) => r.three.pull.rate / r.one.pull.rate);
    const [ia, ib] = [ingest.round.one.ingest, ingest.round.three.ingest];
    const [pa, pb] = [pull.round.one.pull, pull.round.three.pull];
    const avg = (perNode) => Object.values(perNode).reduce((a, b) => a + b, 0) / Object.values(perNode).length;
    return {
      rows: [
        { measure: 'ingest, accepted requests/s, 3 nodes vs 1', value: `${fmt(ib.rps)} (by node: ${ib.byNode.map((n) => fmt(n / INGEST.seconds)).join(' + ')})`, baseline: `${fmt(ia.rps)} (one node)`, ratio: fmt(ingest.ratio, 2), target: '', pass: undefined },
        { measure: 'ingest non-2xx / errors', value: `${ib.non2xx} / ${ib.errors}`, baseline: `${ia.non2xx} / ${ia.errors}`, ratio: '', target: '0 / 0', pass: ib.non2xx + ib.errors + ia.non2xx + ia.errors === 0 },
        ...costRows('ingest', ia.cost, ib.cost),
        { measure: `pull + ack, batches of 100, ${CONSUMERS} consumers, messages/s, 3 nodes vs 1`, value: `${fmt(pb.rate)} (by node: ${pb.byNode.map((n) => fmt(n / pb.seconds)).join(' + ')})`, baseline: `${fmt(pa.rate)} (one node)`, ratio: fmt(pull.ratio, 2), target: '', pass: undefined },
        ...costRows('pull + ack', pa.cost, pb.cost),
      ],
      notes: [
        `Each round: one node on a fresh schema, then three nodes on another fresh schema (\`limits.perNode: true\`, each node its own data dir and port), each schema dropped afterwards. Ingest: autocannon, ${INGEST.connections} connections in all (17 + 17 + 16 on three nodes), 1 KiB JSON to \`/in/default\`, ${INGEST.seconds} s after a ${INGEST.warmupSeconds} s warm-up. Then the schema is ANALYZEd and ${CONSUMERS} consumers (all on the one node, or one per node) pull 100 and ack, in sequence, for ${PULL_SECONDS} s or until the queue is empty, from the backlog the ingest left. ${ROUNDS} rounds; each ratio is shown from the round where it is the median (ingest: ${fmtRatios(ingest.ratios)}; pull + ack: ${fmtRatios(pull.ratios)}). There is no target for 3 ÷ 1: on 2 cores shared with PostgreSQL and the load generator, more nodes only add contention.`,
        `CPU from /proc (utime + stime) over each measure: each node process; PostgreSQL's backends matched to each node by client port, plus PostgreSQL's own processes (WAL writer, checkpointer, background writer); every postgres process (which also counts the test suites that share the server). Per-node costs are per 10,000 of the messages that node handled.`,
        `What N machines would carry, if CPU were the only limit: each node on a ${CORES}-core machine of its own, PostgreSQL on one more, the load generator elsewhere. Rough: the costs were measured on an overloaded 2-core machine (a process's CPU per message includes contention), and a node's cost per message falls as its load grows (bigger group commits).`,
        `From the one-node round (one node carrying the whole load) — ${projection('ingest', ia.cost.ownNodes.node1, ia.cost.pgOwn)} ${projection('pull + ack', pa.cost.ownNodes.node1, pa.cost.pgOwn)} ${projection('a message ingested, then pulled and acked', ia.cost.ownNodes.node1 + pa.cost.ownNodes.node1, ia.cost.pgOwn + pa.cost.pgOwn)}`,
        `From the three-node round (each node a third of the load) — ${projection('ingest', avg(ib.cost.ownNodes), ib.cost.pgOwn)} ${projection('pull + ack', avg(pb.cost.ownNodes), pb.cost.pgOwn)}`,
        'Limits across nodes (PERF.md: PostgreSQL + Redis, 0 violations) are not measured here: there is no shared limiter yet, and with `limits.perNode: true` each node enforces its limits alone.',
        `Load average (1 / 5 / 15 min) ${loadBefore} at the start, ${loadNow()} at the end; the machine is shared with test suites running in parallel.`,
      ],
    };
  },
};
