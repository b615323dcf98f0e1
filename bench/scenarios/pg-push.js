/**
 * PostgreSQL — push, no limits, to a sink on 127.0.0.1 that answers at once: one node on PostgreSQL
 * against one on SQLite (same run, alternating), then three nodes on one PostgreSQL database, with
 * the CPU each process spends per 10,000 deliveries.
 */
import { SinkProcess } from '../lib/children.js';
import { metered } from '../lib/cpu.js';
import { postgresUnreachable, skipped, withPostgresNodes } from '../lib/pg.js';
import { clientsOf, cpuBreakdown, fmtPerNode } from '../lib/pg-load.js';
import { enqueue, pushConfig, resume, withSluice } from '../lib/push.js';
import { loadNow } from '../lib/machine.js';
import { arrivalRate, fmt, fmtRatios, medianRound } from '../lib/stats.js';
import { outboundMessages } from './push.js';

const N = 20_000;
const IN_FLIGHT = 100;
const ROUNDS = 3;
const TIMEOUT_MS = 180_000;
const CONFIG = pushConfig({ limits: { defaultDomain: { concurrency: IN_FLIGHT } } });

/**
 * Enqueue N messages (paused) split between the nodes, each share through its own node's batch API;
 * then resume the queue on every node at once and time the deliveries at the sink, under a CpuMeter.
 */
async function pushThrough(nodes, sink) {
  const messages = outboundMessages(N, () => sink.url('/hook'));
  const share = Math.ceil(N / nodes.length);
  await Promise.all(nodes.map((node, i) => enqueue(node, messages.slice(i * share, (i + 1) * share))));
  await sink.reset();
  const { seconds, cpu } = await metered(clientsOf(nodes), async () => {
    await Promise.all(nodes.map((node) => resume(node)));
    await sink.waitForCount(N, TIMEOUT_MS, 20);
  });
  const stats = await sink.stats();
  return { rate: arrivalRate(stats.times), delivered: stats.count, maxInFlight: stats.maxInFlight, seconds, cpu, cost: cpuBreakdown(cpu, stats.count) };
}

export default {
  id: 'pg-push',
  section: 'PostgreSQL',
  title: 'Push on PostgreSQL, no limits, sink answers at once',
  async run(ctx) {
    const why = await postgresUnreachable();
    if (why) return skipped(why);
    const loadBefore = loadNow();
    const sink = await SinkProcess.start({});
    try {
      await sink.warmUp();
      const rounds = [];
      for (let i = 0; i < ROUNDS; i += 1) {
        const sqlite = await withSluice(CONFIG, (node) => pushThrough([node], sink));
        const postgres = await withPostgresNodes(1, CONFIG, (nodes) => pushThrough(nodes, sink));
        ctx.log(`pg-push round ${i + 1}: postgres ${fmt(postgres.rate)}/s, sqlite ${fmt(sqlite.rate)}/s (load ${loadNow()})`);
        rounds.push({ sqlite, postgres });
      }
      let three;
      let threeError;
      try {
        three = await withPostgresNodes(3, CONFIG, (nodes) => pushThrough(nodes, sink));
        ctx.log(`pg-push three nodes: ${fmt(three.rate)}/s`);
      } catch (error) {
        threeError = String(error.message ?? error).split('\n')[0];
        ctx.log(`pg-push three nodes failed: ${error.stack ?? error}`);
      }
      const { round, ratio, ratios } = medianRound(rounds, (r) => r.postgres.rate / r.sqlite.rate);
      const { postgres, sqlite } = round;
      const rows = [
        { measure: 'deliveries/s seen by the sink, PostgreSQL node vs SQLite node', value: fmt(postgres.rate), baseline: `${fmt(sqlite.rate)} (SQLite node)`, ratio: fmt(ratio, 2), target: '', pass: undefined },
        { measure: 'most in flight at the sink', value: fmt(postgres.maxInFlight), baseline: fmt(sqlite.maxInFlight), ratio: '', target: `≤ ${IN_FLIGHT}`, pass: postgres.maxInFlight <= IN_FLIGHT },
        { measure: 'Sluice node CPU per 10,000 deliveries', value: `${fmt(postgres.cost.nodes.node1, 2)} s`, baseline: `${fmt(sqlite.cost.nodes.node1, 2)} s (SQLite node)`, ratio: '', target: '', pass: undefined },
        { measure: 'PostgreSQL CPU per 10,000 deliveries (backends serving the node + PostgreSQL\'s own processes)', value: `${fmt(postgres.cost.pgOwn, 2)} s`, baseline: '', ratio: '', target: '', pass: undefined },
        { measure: 'PostgreSQL CPU per 10,000 deliveries, every postgres process', value: `${fmt(postgres.cost.pgAll, 2)} s`, baseline: `${fmt(sqlite.cost.pgAll, 2)} s (during the SQLite node's run: other users)`, ratio: '', target: '', pass: undefined },
      ];
      if (three) {
        rows.push(
          { measure: 'three nodes on one database: deliveries/s seen by the sink', value: fmt(three.rate), baseline: `${fmt(postgres.rate)} (one node)`, ratio: fmt(three.rate / postgres.rate, 2), target: '', pass: undefined },
          { measure: 'three nodes: most in flight at the sink', value: fmt(three.maxInFlight), baseline: '', ratio: '', target: `≤ ${3 * IN_FLIGHT} (${IN_FLIGHT} per node)`, pass: three.maxInFlight <= 3 * IN_FLIGHT },
          { measure: 'three nodes: each node\'s CPU per 10,000 deliveries (of all)', value: fmtPerNode(three.cost.nodes), baseline: '', ratio: '', target: '', pass: undefined },
          { measure: 'three nodes: PostgreSQL CPU per 10,000 (backends + own processes)', value: `${fmt(three.cost.pgOwn, 2)} s (backends: ${fmtPerNode(three.cost.pgBackendsPerNode)})`, baseline: `${fmt(postgres.cost.pgOwn, 2)} s (one node)`, ratio: '', target: '', pass: undefined },
        );
      } else {
        rows.push({ measure: 'three nodes on one database: deliveries', value: `failed: ${threeError}`, baseline: '', ratio: '', target: `${fmt(N)} delivered`, pass: false });
      }
      return {
        rows,
        notes: [
          `${fmt(N)} messages of 1 KiB enqueued through \`POST /v1/messages/batch\` into the paused push queue \`outbound\`, then resumed; \`defaultDomain.concurrency: ${IN_FLIGHT}\`; the sink in its own process on 127.0.0.1, keep-alive, warmed with 3,000 requests. Rate = (n − 1) / (last − first arrival) at the sink. SQLite node and PostgreSQL node (fresh schema, dropped afterwards) back to back, ${ROUNDS} times; the round with the median ratio is shown (ratios: ${fmtRatios(ratios)}). No PERF.md target for push on PostgreSQL: the figures are for the cost per delivery.`,
          `Three nodes: one fresh schema, \`limits.perNode: true\` (so up to ${IN_FLIGHT} in flight per node), each node enqueueing a third through its own batch API; then the queue resumed through every node at once (a node also hears another's resume through NOTIFY; resuming on each keeps the start from waiting on that signal). Measured once, after the rounds.`,
          `CPU from /proc (utime + stime) from the resume until the sink has seen all ${fmt(N)}: node processes; PostgreSQL's backends matched to each node by client port, plus PostgreSQL's own processes; and every postgres process (which also counts the test suites that share the server).`,
          `Load average (1 / 5 / 15 min) ${loadBefore} at the start, ${loadNow()} at the end; the machine is shared with test suites running in parallel.`,
        ],
      };
    } finally {
      await sink.stop();
    }
  },
};
