/**
 * PostgreSQL — pull + ack with 5,000 waiting against 500,000 waiting: two nodes on PostgreSQL, each
 * on a schema of its own, one seeded with the small backlog and one with the large, drained
 * alternately in rounds by one consumer (pull 100, ack), so both see the same machine. PERF.md: no
 * slower at 500,000 than at 5,000.
 */
import { analyzeSchema, postgresUnreachable, skipped, withPostgresNodes } from '../lib/pg.js';
import { cpuBreakdown, pullAckMeasured, seedPullQueue } from '../lib/pg-load.js';
import { loadNow } from '../lib/machine.js';
import { fmt, fmtRatios, medianRound } from '../lib/stats.js';

const SMALL = 5_000;
const LARGE = 500_000;
const BATCH = 100;
const DRAIN = 10_000;
const WARM = 1_000;
const ROUNDS = 3;
const MAX_SECONDS = 15;
/** Within this much of 1.0 counts as "no slower": the rounds of one run spread by more on this machine. */
const TOLERANCE = 0.9;

async function drainBoth(small, large) {
  const a = await pullAckMeasured(small, { total: DRAIN, batch: BATCH, maxSeconds: MAX_SECONDS });
  const b = await pullAckMeasured(large, { total: DRAIN, batch: BATCH, maxSeconds: MAX_SECONDS });
  return { small: { ...a, rate: a.acked / a.seconds }, large: { ...b, rate: b.acked / b.seconds } };
}

export default {
  id: 'pg-backlog',
  section: 'PostgreSQL',
  title: 'Pull + ack on PostgreSQL, 500,000 waiting vs 5,000',
  async run(ctx) {
    const why = await postgresUnreachable();
    if (why) return skipped(why);
    const loadBefore = loadNow();
    const extra = ROUNDS * DRAIN + WARM;
    return withPostgresNodes(1, {}, (small, smallSchema) =>
      withPostgresNodes(1, {}, async (large, largeSchema) => {
        const smallSeconds = await seedPullQueue(small[0], SMALL + extra);
        const largeSeconds = await seedPullQueue(large[0], LARGE + extra);
        ctx.log(`pg-backlog: seeded ${fmt(SMALL + extra)} in ${fmt(smallSeconds, 1)} s and ${fmt(LARGE + extra)} in ${fmt(largeSeconds, 1)} s`);
        await analyzeSchema(smallSchema);
        await analyzeSchema(largeSchema);
        await pullAckMeasured(small, { total: WARM, batch: BATCH, maxSeconds: MAX_SECONDS });
        await pullAckMeasured(large, { total: WARM, batch: BATCH, maxSeconds: MAX_SECONDS });
        const rounds = [];
        for (let i = 0; i < ROUNDS; i += 1) {
          const round = await drainBoth(small, large);
          ctx.log(`pg-backlog round ${i + 1}: ${fmt(SMALL)} waiting ${fmt(round.small.rate)}/s, ${fmt(LARGE)} waiting ${fmt(round.large.rate)}/s (load ${loadNow()})`);
          rounds.push(round);
        }
        const { round, ratio, ratios } = medianRound(rounds, (r) => r.large.rate / r.small.rate);
        const cpuSmall = cpuBreakdown(round.small.cpu, round.small.acked);
        const cpuLarge = cpuBreakdown(round.large.cpu, round.large.acked);
        return {
          rows: [
            { measure: `messages pulled and acked per second, ${fmt(LARGE)} waiting vs ${fmt(SMALL)}`, value: fmt(round.large.rate), baseline: `${fmt(round.small.rate)} (${fmt(SMALL)} waiting)`, ratio: fmt(ratio, 2), target: `no slower (≥ ${TOLERANCE} for noise)`, pass: ratio >= TOLERANCE },
            { measure: 'PostgreSQL CPU per 10,000 (backends serving the node + PostgreSQL\'s own processes)', value: `${fmt(cpuLarge.pgOwn, 2)} s`, baseline: `${fmt(cpuSmall.pgOwn, 2)} s`, ratio: fmt(cpuLarge.pgOwn / cpuSmall.pgOwn, 2), target: '', pass: undefined },
            { measure: 'Sluice node CPU per 10,000', value: `${fmt(cpuLarge.nodes.node1, 2)} s`, baseline: `${fmt(cpuSmall.nodes.node1, 2)} s`, ratio: fmt(cpuLarge.nodes.node1 / cpuSmall.nodes.node1, 2), target: '', pass: undefined },
          ],
          notes: [
            `Two nodes on PostgreSQL, each on a fresh schema, started together; pull queue \`default\` of one seeded with ${fmt(SMALL + extra)} 1 KiB messages, of the other with ${fmt(LARGE + extra)}, by ingest requests, 100 at a time (${fmt(smallSeconds, 1)} s and ${fmt(largeSeconds, 1)} s: ${fmt((LARGE + extra) / largeSeconds)} ingests/s), then both schemas ANALYZEd (autovacuum is off on this server). One consumer on one keep-alive connection, \`pull {max: 100}\` then \`ack\`, in sequence; ${fmt(WARM)} drained from each as a warm-up, then ${ROUNDS} rounds each draining up to ${fmt(DRAIN)} (at most ${MAX_SECONDS} s) from the small backlog then from the large one, so each stays at or above its size. The round with the median ratio is shown (ratios: ${fmtRatios(ratios)}).`,
            `"No slower" is judged as a ratio ≥ ${TOLERANCE}: rounds of one run on this shared machine differ by more than 10 % with nothing changed.`,
            `Load average (1 / 5 / 15 min) ${loadBefore} at the start, ${loadNow()} at the end; the machine is shared with test suites running in parallel.`,
          ],
        };
      }),
    );
  },
};
