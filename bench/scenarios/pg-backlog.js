/**
 * PostgreSQL — pull + ack with 5,000 waiting against a large backlog: two nodes on PostgreSQL, each
 * on a schema of its own, one seeded with the small backlog and one with the large, drained
 * alternately in rounds by one consumer (pull 100, ack), so both see the same machine. PERF.md: no
 * slower at 500,000 than at 5,000. Seeding goes through ingest (the batch API takes push messages
 * only): 576,000 took 73 s at load average 2-3 (600 s before the append statement stopped reading
 * messages), and the whole case 2-4 minutes on this shared machine, so it runs with `--full`;
 * without, the large backlog is 100,000.
 */
import { analyzeSchema, postgresUnreachable, seqScans, skipped, withPostgresNodes } from '../lib/pg.js';
import { cpuBreakdown, pullAckMeasured, seedPullQueue } from '../lib/pg-load.js';
import { loadNow } from '../lib/machine.js';
import { sleep } from '../lib/children.js';
import { fmt, fmtRatios, medianRound } from '../lib/stats.js';

const SMALL = 5_000;
/** Messages waiting in the large backlog: with `--full`, and without. */
const LARGE = { full: 500_000, default: 100_000 };
/** Ingest requests at a time while seeding. */
const SEED_CONNECTIONS = 300;
/** The large backlog is seeded in this many equal runs, to show the ingest rate as the table grows. */
const SEED_PARTS = 10;
const BATCH = 100;
const DRAIN = 15_000;
const WARM = 1_000;
const ROUNDS = 5;
const MAX_SECONDS = 15;
/** PostgreSQL sends a backend's table statistics at most once a second. */
const STATS_DELAY_MS = 1_500;
/** Within this much of 1.0 counts as "no slower": the rounds of one run spread by more on this machine. */
const TOLERANCE = 0.9;

/** One round: DRAIN from each, the small backlog first in even rounds and the large one first in odd ones. */
async function drainBoth(small, large, round) {
  const drainOne = async (nodes) => {
    const result = await pullAckMeasured(nodes, { total: DRAIN, batch: BATCH, maxSeconds: MAX_SECONDS });
    return { ...result, rate: result.acked / result.seconds };
  };
  if (round % 2 === 1) {
    const b = await drainOne(large);
    return { large: b, small: await drainOne(small) };
  }
  const a = await drainOne(small);
  return { small: a, large: await drainOne(large) };
}

export default {
  id: 'pg-backlog',
  section: 'PostgreSQL',
  title: 'Pull + ack on PostgreSQL, a large backlog vs 5,000 waiting',
  async run(ctx) {
    const why = await postgresUnreachable();
    if (why) return skipped(why);
    const largeCount = ctx.full ? LARGE.full : LARGE.default;
    const loadBefore = loadNow();
    const extra = ROUNDS * DRAIN + WARM;
    return withPostgresNodes(1, {}, (small, smallSchema) =>
      withPostgresNodes(1, {}, async (big, largeSchema) => {
        const { seconds: smallSeconds } = await seedPullQueue(small[0], SMALL + extra, { connections: SEED_CONNECTIONS });
        const scansBefore = await seqScans(largeSchema, 'messages');
        const { seconds: largeSeconds, rates: seedRates } = await seedPullQueue(big[0], largeCount + extra, { connections: SEED_CONNECTIONS, parts: SEED_PARTS });
        const seedSlowdown = seedRates.at(-1) / seedRates[0];
        await sleep(STATS_DELAY_MS);
        const scansAfter = await seqScans(largeSchema, 'messages');
        const seedScans = { scans: scansAfter.scans - scansBefore.scans, rows: scansAfter.rows - scansBefore.rows };
        ctx.log(`pg-backlog: seeded ${fmt(SMALL + extra)} in ${fmt(smallSeconds, 1)} s and ${fmt(largeCount + extra)} in ${fmt(largeSeconds, 1)} s`);
        await analyzeSchema(smallSchema);
        await analyzeSchema(largeSchema);
        await pullAckMeasured(small, { total: WARM, batch: BATCH, maxSeconds: MAX_SECONDS });
        await pullAckMeasured(big, { total: WARM, batch: BATCH, maxSeconds: MAX_SECONDS });
        const rounds = [];
        for (let i = 0; i < ROUNDS; i += 1) {
          const round = await drainBoth(small, big, i);
          ctx.log(`pg-backlog round ${i + 1}: ${fmt(SMALL)} waiting ${fmt(round.small.rate)}/s, ${fmt(largeCount)} waiting ${fmt(round.large.rate)}/s (load ${loadNow()})`);
          rounds.push(round);
        }
        const { round, ratio, ratios } = medianRound(rounds, (r) => r.large.rate / r.small.rate);
        const cpuSmall = cpuBreakdown(round.small.cpu, round.small.acked);
        const cpuLarge = cpuBreakdown(round.large.cpu, round.large.acked);
        return {
          rows: [
            { measure: `messages pulled and acked per second, ${fmt(largeCount)} waiting vs ${fmt(SMALL)}`, value: fmt(round.large.rate), baseline: `${fmt(round.small.rate)} (${fmt(SMALL)} waiting)`, ratio: fmt(ratio, 2), target: `no slower (≥ ${TOLERANCE} for noise)`, pass: ratio >= TOLERANCE },
            { measure: 'PostgreSQL CPU per 10,000 (backends serving the node + PostgreSQL\'s own processes)', value: `${fmt(cpuLarge.pgOwn, 2)} s`, baseline: `${fmt(cpuSmall.pgOwn, 2)} s`, ratio: fmt(cpuLarge.pgOwn / cpuSmall.pgOwn, 2), target: '', pass: undefined },
            { measure: `ingest while seeding the large backlog (${SEED_CONNECTIONS} at a time): last tenth vs first tenth`, value: `${fmt(seedRates.at(-1))}/s`, baseline: `${fmt(seedRates[0])}/s (first tenth, empty table)`, ratio: fmt(seedSlowdown, 2), target: '', pass: undefined },
            { measure: 'sequential scans of `messages` while seeding the large backlog (rows they read)', value: `${fmt(seedScans.scans)} (${fmt(seedScans.rows)})`, baseline: '', ratio: '', target: '', pass: undefined },
            { measure: 'Sluice node CPU per 10,000', value: `${fmt(cpuLarge.nodes.node1, 2)} s`, baseline: `${fmt(cpuSmall.nodes.node1, 2)} s`, ratio: fmt(cpuLarge.nodes.node1 / cpuSmall.nodes.node1, 2), target: '', pass: undefined },
          ],
          notes: [
            `Two nodes on PostgreSQL, each on a fresh schema, started together; pull queue \`default\` of one seeded with ${fmt(SMALL + extra)} 1 KiB messages, of the other with ${fmt(largeCount + extra)}, by ingest requests, ${SEED_CONNECTIONS} at a time (${fmt(smallSeconds, 1)} s and ${fmt(largeSeconds, 1)} s: ${fmt((largeCount + extra) / largeSeconds)} ingests/s; the large one in ${SEED_PARTS} runs of ${fmt((largeCount + extra) / SEED_PARTS)}, at ${seedRates.map((r) => fmt(r)).join(', ')}/s), then both schemas ANALYZEd (autovacuum is off on this server). One consumer on one keep-alive connection, \`pull {max: 100}\` then \`ack\`, in sequence; ${fmt(WARM)} drained from each as a warm-up, then ${ROUNDS} rounds each draining up to ${fmt(DRAIN)} (at most ${MAX_SECONDS} s) from each backlog (the small one first in odd rounds, the large one first in even ones), so each stays at or above its size. The round with the median ratio is shown (ratios: ${fmtRatios(ratios)}).`,
            ...(ctx.full ? [] : [`PERF.md asks for 500,000 waiting: run \`node bench/run.js --full pg-backlog\` for that (2-4 minutes here, most of it seeding through ingest).`]),
            `"No slower" is judged as a ratio ≥ ${TOLERANCE}: rounds of one run on this shared machine differ by more than 10 % with nothing changed.`,
            `Load average (1 / 5 / 15 min) ${loadBefore} at the start, ${loadNow()} at the end; the machine is shared with test suites running in parallel.`,
          ],
        };
      }),
    );
  },
};
