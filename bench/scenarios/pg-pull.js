/**
 * PostgreSQL — pull + ack at a 50,000 backlog: one consumer pulling 100 and acking them from a
 * Sluice node on PostgreSQL, against one consumer of pg-boss `fetch` 100 + `complete` at the same
 * backlog, in the same database (each in its own schema), alternating in rounds.
 */
import { metered } from '../lib/cpu.js';
import { analyzeSchema, postgresUnreachable, skipped, withPostgresNodes } from '../lib/pg.js';
import { drain, fillBacklog, PG_BOSS_VERSION, withPgBoss } from '../lib/pg-boss.js';
import { cpuBreakdown, INGEST, per10k, pullAckMeasured, seedPullQueue } from '../lib/pg-load.js';
import { jsonBody } from '../lib/prefill.js';
import { loadNow } from '../lib/machine.js';
import { fmt, fmtRatios, medianRound } from '../lib/stats.js';

const BACKLOG = 50_000;
const BATCH = 100;
/** Messages each side drains per round, at most: the backlog stays ≥ BACKLOG throughout. */
const DRAIN = 10_000;
const WARM = 1_000;
const ROUNDS = 3;
const MAX_SECONDS = 15;
const DATA = JSON.parse(jsonBody(INGEST.bodyBytes, 1).toString());

export default {
  id: 'pg-pull',
  section: 'PostgreSQL',
  title: 'Pull + ack on PostgreSQL, batches of 100, 50,000 waiting, vs pg-boss fetch + complete',
  async run(ctx) {
    const why = await postgresUnreachable();
    if (why) return skipped(why);
    const loadBefore = loadNow();
    const fill = BACKLOG + ROUNDS * DRAIN + WARM;
    return withPostgresNodes(1, {}, async (nodes, schema) => {
      const { seconds: seedSeconds } = await seedPullQueue(nodes[0], fill);
      await analyzeSchema(schema);
      ctx.log(`pg-pull: seeded ${fmt(fill)} messages through ingest in ${fmt(seedSeconds, 1)} s`);
      return withPgBoss(async (boss, bossSchema) => {
        const started = performance.now();
        await fillBacklog(boss, DATA, fill);
        const bossFillSeconds = (performance.now() - started) / 1000;
        await analyzeSchema(bossSchema);
        await pullAckMeasured(nodes, { total: WARM, batch: BATCH, maxSeconds: MAX_SECONDS });
        await drain(boss, { total: WARM, batch: BATCH, maxSeconds: MAX_SECONDS });
        const rounds = [];
        for (let i = 0; i < ROUNDS; i += 1) {
          const sluice = await pullAckMeasured(nodes, { total: DRAIN, batch: BATCH, maxSeconds: MAX_SECONDS });
          const { result, seconds, cpu } = await metered({ bench: process.pid }, () => drain(boss, { total: DRAIN, batch: BATCH, maxSeconds: MAX_SECONDS }));
          const round = { sluice: { ...sluice, rate: sluice.acked / sluice.seconds }, boss: { done: result.done, seconds, cpu, rate: result.done / seconds } };
          ctx.log(`pg-pull round ${i + 1}: sluice ${fmt(round.sluice.rate)}/s, pg-boss ${fmt(round.boss.rate)}/s (load ${loadNow()})`);
          rounds.push(round);
        }
        const { round, ratio, ratios } = medianRound(rounds, (r) => r.sluice.rate / r.boss.rate);
        const cpu = cpuBreakdown(round.sluice.cpu, round.sluice.acked);
        const bossPg = per10k(round.boss.cpu.postgresBackends.bench + round.boss.cpu.postgresShared, round.boss.done);
        return {
          rows: [
            { measure: 'messages pulled and acked per second, 50,000 waiting', value: fmt(round.sluice.rate), baseline: `${fmt(round.boss.rate)} (pg-boss fetch 100 + complete)`, ratio: fmt(ratio, 2), target: '≥ 3', pass: ratio >= 3 },
            { measure: 'PostgreSQL CPU per 10,000 (backends serving the client + PostgreSQL\'s own processes)', value: `${fmt(cpu.pgOwn, 2)} s`, baseline: `${fmt(bossPg, 2)} s (pg-boss)`, ratio: '', target: '', pass: undefined },
            { measure: 'PostgreSQL CPU per 10,000, every postgres process', value: `${fmt(cpu.pgAll, 2)} s`, baseline: `${fmt(per10k(round.boss.cpu.postgresAll, round.boss.done), 2)} s (pg-boss)`, ratio: '', target: '', pass: undefined },
            { measure: 'client-side CPU per 10,000 (Sluice node; pg-boss in this process)', value: `${fmt(cpu.nodes.node1, 2)} s`, baseline: `${fmt(per10k(round.boss.cpu.processes.bench, round.boss.done), 2)} s (pg-boss)`, ratio: '', target: '', pass: undefined },
          ],
          notes: [
            `Sluice: one node on PostgreSQL (fresh schema), pull queue \`default\` seeded with ${fmt(fill)} 1 KiB messages by ingest requests (100 at a time, ${fmt(seedSeconds, 1)} s); one consumer on one keep-alive connection, \`pull {max: 100}\` then \`ack\`, in sequence. pg-boss ${PG_BOSS_VERSION}: its own schema in the same database, ${fmt(fill)} jobs of the same 1 KiB JSON put in with batched \`insert\` (${fmt(bossFillSeconds, 1)} s); one consumer, \`fetch('bench', {batchSize: 100})\` then \`complete\` of the ids, in sequence. Both schemas ANALYZEd after the fill (the server runs with autovacuum off). ${fmt(WARM)} of each drained first as a warm-up; then ${ROUNDS} rounds, each draining up to ${fmt(DRAIN)} (at most ${MAX_SECONDS} s) from Sluice then from pg-boss, so both backlogs stay between ${fmt(BACKLOG)} and ${fmt(BACKLOG + ROUNDS * DRAIN)}. The round with the median ratio is shown (ratios: ${fmtRatios(ratios)}).`,
            `Sluice per 10,000: node ${fmt(cpu.nodes.node1, 2)} s, its PostgreSQL backends ${fmt(cpu.pgBackends, 2)} s, PostgreSQL's own processes ${fmt(cpu.pgShared, 2)} s, the consumer (this process) ${fmt(cpu.bench, 2)} s.`,
            `Load average (1 / 5 / 15 min) ${loadBefore} at the start, ${loadNow()} at the end; the machine is shared with test suites running in parallel.`,
          ],
        };
      });
    });
  },
};
