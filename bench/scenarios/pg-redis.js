/**
 * PostgreSQL + Redis — limits shared by a cluster:
 * - three nodes pushing to one sink under one domain limit (concurrency 5, 100/s, burst 10): the
 *   limit is the cluster's, judged on the attempt start times the nodes record and on the sink;
 * - one node with Redis limits against one without, push with no limits, alternating rounds;
 * - CPU per message paced at 100/s with Redis: the node and the Redis server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SinkProcess, sleep } from '../lib/children.js';
import { processCpuSeconds } from '../lib/cpu.js';
import { REDIS_URL, postgresUnreachable, redisUnreachable, skipped, sql, withPostgresNodes } from '../lib/pg.js';
import { enqueue, paddedBody, pushConfig, resume, warmUp } from '../lib/push.js';
import { loadNow } from '../lib/machine.js';
import { arrivalRate, fmt, fmtRatios, medianRound } from '../lib/stats.js';
import { windowCheck } from './limits.js';
import { outboundMessages } from './push.js';

const LIMIT = { concurrency: 5, ratePerSecond: 100, burst: 10 };
const WINDOW_SECONDS = 20;
const WINDOWS_MS = [50, 100, 1_000, 5_000, 10_000];
/** Send times come from three processes that each learn of their grant a little late: this much is allowed. */
const SEND_JITTER_MS = 5;
const SINK_DELAY_MS = 30;
const UNLIMITED_N = 10_000;
const ROUNDS = 3;
const PACED_N = 1_500;
const PACED_WARM_UP = 3_000;

/** CPU seconds of the redis-server process(es) on this machine. */
function redisCpuSeconds() {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/comm`, 'utf8').startsWith('redis-server')) continue;
      total += processCpuSeconds(Number(name)) ?? 0;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** Three nodes with Redis, one limited sink: send-time and sink windows, most in flight, the rate. */
async function threeNodesLimited() {
  const sink = await SinkProcess.start({ delayMs: SINK_DELAY_MS });
  try {
    const config = pushConfig({ limits: { redis: REDIS_URL, defaultDomain: { concurrency: 100 }, domains: { [sink.domain()]: LIMIT } } });
    return await withPostgresNodes(3, config, async (nodes, schema) => {
      const total = Math.ceil(WINDOW_SECONDS * LIMIT.ratePerSecond * 1.2);
      const share = Math.ceil(total / nodes.length);
      const messages = Array.from({ length: total }, (_, seq) => ({ url: sink.url('/hook'), body: paddedBody({ seq }, 256) }));
      await Promise.all(nodes.map((node, i) => enqueue(node, messages.slice(i * share, (i + 1) * share))));
      await sink.reset();
      await Promise.all(nodes.map((node) => resume(node)));
      await sink.waitForCount(1, 30_000, 5);
      await sleep(WINDOW_SECONDS * 1000 + 500);
      const stats = await sink.stats();
      const { rows } = await sql(`SELECT started_at AS at FROM ${schema}.attempts ORDER BY started_at`);
      return { stats, sent: rows.map((row) => Number(row.at)) };
    });
  } finally {
    await sink.stop();
  }
}

/** Push with no limits through one node, with or without Redis: deliveries per second at the sink. */
async function unlimited(sink, redis) {
  const config = pushConfig({ limits: { defaultDomain: { concurrency: 100 }, ...(redis ? { redis: REDIS_URL } : {}) } });
  return withPostgresNodes(1, config, async ([node]) => {
    await enqueue(node, outboundMessages(UNLIMITED_N, () => sink.url('/hook')));
    await sink.reset();
    await resume(node);
    await sink.waitForCount(UNLIMITED_N, 180_000, 20);
    const stats = await sink.stats();
    return { rate: arrivalRate(stats.times), maxInFlight: stats.maxInFlight };
  });
}

/** One node with Redis, paced at 100/s: node and Redis CPU per message. */
async function pacedWithRedis() {
  const sink = await SinkProcess.start({ delayMs: 0 });
  try {
    const config = pushConfig({ limits: { redis: REDIS_URL, defaultDomain: { concurrency: 100 }, domains: { [sink.domain()]: LIMIT, [sink.domain('localhost')]: { concurrency: 5 } } } });
    return await withPostgresNodes(1, config, async ([node]) => {
      await warmUp(node, sink, PACED_WARM_UP); // as the paced scenario does
      await enqueue(node, Array.from({ length: PACED_N }, (_, seq) => ({ url: sink.url('/hook'), body: paddedBody({ seq }, 256) })));
      await sink.reset();
      const nodeBefore = processCpuSeconds(node.pid);
      const redisBefore = redisCpuSeconds();
      await resume(node);
      await sink.waitForCount(PACED_N, 120_000, 50);
      const nodeCpu = processCpuSeconds(node.pid) - nodeBefore;
      const redisCpu = redisCpuSeconds() - redisBefore;
      return { nodeMs: (nodeCpu * 1000) / PACED_N, redisMs: (redisCpu * 1000) / PACED_N };
    });
  } finally {
    await sink.stop();
  }
}

export default {
  id: 'pg-redis',
  section: 'PostgreSQL',
  title: 'Limits shared in Redis: three nodes under one limit; one node with Redis vs without',
  async run(ctx) {
    const why = (await postgresUnreachable()) ?? (await redisUnreachable());
    if (why) return skipped(why);
    const loadBefore = loadNow();

    const three = await threeNodesLimited();
    const firstSent = three.sent[0] ?? 0;
    const sentInWindow = Float64Array.from(three.sent.filter((t) => t - firstSent < WINDOW_SECONDS * 1000));
    const sendChecks = WINDOWS_MS.map((w) => windowCheck(sentInWindow, w, LIMIT, SEND_JITTER_MS));
    const first = Math.min(...three.stats.times);
    const arrivals = Float64Array.from(three.stats.times.filter((t) => t - first < WINDOW_SECONDS * 1000)).sort();
    const rate = arrivals.length / WINDOW_SECONDS;
    const deviation = (rate - LIMIT.ratePerSecond) / LIMIT.ratePerSecond;
    const violations = sendChecks.filter((c) => c.violated).length + (three.stats.maxInFlight > LIMIT.concurrency ? 1 : 0);
    ctx.log(`pg-redis three nodes: ${fmt(rate, 2)}/s, max in flight ${three.stats.maxInFlight}, send windows ${sendChecks.map((c) => `${c.windowMs}:${c.most}/${c.allowed}`).join(' ')}`);

    const sink = await SinkProcess.start({});
    let rounds = [];
    try {
      await sink.warmUp();
      for (let i = 0; i < ROUNDS; i += 1) {
        const without = await unlimited(sink, false);
        const withRedis = await unlimited(sink, true);
        ctx.log(`pg-redis round ${i + 1}: with Redis ${fmt(withRedis.rate)}/s, without ${fmt(without.rate)}/s (load ${loadNow()})`);
        rounds.push({ without, withRedis });
      }
    } finally {
      await sink.stop();
    }
    const { round, ratio, ratios } = medianRound(rounds, (r) => r.withRedis.rate / r.without.rate);
    const paced = await pacedWithRedis();
    ctx.log(`pg-redis paced: node ${fmt(paced.nodeMs, 3)} ms + Redis ${fmt(paced.redisMs, 3)} ms per message`);

    return {
      rows: [
        { measure: 'three nodes, one limit (5 in flight, 100/s, burst 10): violations (most in flight at the sink > 5, or a window of send times over burst + rate·W)', value: String(violations), baseline: '', ratio: '', target: '0', pass: violations === 0 },
        { measure: `three nodes: rate over ${WINDOW_SECONDS} s at the sink`, value: `${fmt(rate, 2)}/s (${deviation >= 0 ? '+' : ''}${fmt(deviation * 100, 2)} %)`, baseline: '100/s', ratio: fmt(rate / 100, 3), target: '−3 % / +1 %', pass: deviation >= -0.03 && deviation <= 0.01 },
        { measure: 'three nodes: most in flight at the sink', value: String(three.stats.maxInFlight), baseline: '', ratio: '', target: '≤ 5', pass: three.stats.maxInFlight <= LIMIT.concurrency },
        { measure: 'push, no limits: one node with Redis limits vs without', value: `${fmt(round.withRedis.rate)}/s`, baseline: `${fmt(round.without.rate)}/s (no Redis)`, ratio: fmt(ratio, 2), target: '≥ 0.60', pass: ratio >= 0.6 },
        { measure: 'paced at 100/s with Redis: CPU per message, node + Redis', value: `${fmt(paced.nodeMs + paced.redisMs, 3)} ms (node ${fmt(paced.nodeMs, 3)}, Redis ${fmt(paced.redisMs, 3)})`, baseline: '', ratio: '', target: '≤ 0.5 ms', pass: paced.nodeMs + paced.redisMs <= 0.5 },
      ],
      notes: [
        `Three nodes on one schema and one Redis, ${fmt(Math.ceil(WINDOW_SECONDS * 120))} messages of 256 bytes enqueued (paused) through all three, then resumed together; the sink answers after ${SINK_DELAY_MS} ms. Send-side windows (W ms: most attempts started / allowed, with ${SEND_JITTER_MS} ms for the three nodes' event loops): ${sendChecks.map((c) => `${c.windowMs}: ${c.most}/${c.allowed}`).join(', ')}; the attempt start times are those the nodes stored in PostgreSQL, over the first ${WINDOW_SECONDS} s.`,
        `No limits: ${fmt(UNLIMITED_N)} messages (domain concurrency 100) through one node on PostgreSQL with Redis limits, then without, ${ROUNDS} rounds; the ratio is shown from the median round (${fmtRatios(ratios)}). Paced: ${fmt(PACED_N)} messages at 100/s through one node with Redis, after ${fmt(PACED_WARM_UP)} unpaced to warm it up; CPU of the node process and of redis-server from the resume to the last arrival, per message.`,
        `Load average ${loadBefore} at the start, ${loadNow()} at the end.`,
      ],
    };
  },
};
