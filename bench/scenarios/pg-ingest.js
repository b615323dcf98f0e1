/**
 * PostgreSQL — ingest on one node: Sluice on PostgreSQL against Sluice on SQLite (fsync), and
 * against pg-boss `send` from 50 concurrent callers, all in the same run, with the CPU each costs per
 * 10,000 messages. Per round: SQLite node, PostgreSQL node (fresh schema), pg-boss (fresh schema of
 * its own), back to back; each ratio is reported from the round where it is the median.
 */
import { cpuBreakdown, ingestMeasured, INGEST, per10k } from '../lib/pg-load.js';
import { metered } from '../lib/cpu.js';
import { jsonBody } from '../lib/prefill.js';
import { postgresUnreachable, seqScans, skipped, withPostgresNodes } from '../lib/pg.js';
import { sleep } from '../lib/children.js';
import { PG_BOSS_VERSION, sendFor, withPgBoss } from '../lib/pg-boss.js';
import { loadNow } from '../lib/machine.js';
import { fmt, fmtRatios, medianRound } from '../lib/stats.js';
import { withBareSluice } from './ingest.js';

const ROUNDS = 3;
const DATA = JSON.parse(jsonBody(INGEST.bodyBytes, 1).toString()); // the same 1 KiB JSON as the HTTP body

async function pgBossSend() {
  return withPgBoss(async (boss) => {
    await sendFor(boss, DATA, { callers: INGEST.connections, seconds: INGEST.warmupSeconds });
    const { result, cpu } = await metered({ bench: process.pid }, () => sendFor(boss, DATA, { callers: INGEST.connections, seconds: INGEST.seconds }));
    return { ...result, rps: result.sent / result.seconds, cpu };
  });
}

export default {
  id: 'pg-ingest',
  section: 'PostgreSQL',
  title: 'Ingest, one node on PostgreSQL vs one on SQLite and vs pg-boss send',
  async run(ctx) {
    const why = await postgresUnreachable();
    if (why) return skipped(why);
    const loadBefore = loadNow();
    const rounds = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      const sqlite = await withBareSluice((node) => ingestMeasured([node]));
      const postgres = await withPostgresNodes(1, {}, async (nodes, schema) => {
        const before = await seqScans(schema, 'messages');
        const measured = await ingestMeasured(nodes);
        await sleep(1_500); // PostgreSQL sends a backend's table statistics at most once a second
        const after = await seqScans(schema, 'messages');
        return { ...measured, seqScans: after.scans - before.scans, seqRows: after.rows - before.rows };
      });
      const boss = await pgBossSend();
      ctx.log(`pg-ingest round ${i + 1}: postgres ${fmt(postgres.rps)}/s, sqlite ${fmt(sqlite.rps)}/s, pg-boss send ${fmt(boss.rps)}/s (load ${loadNow()})`);
      rounds.push({ sqlite, postgres, boss });
    }
    const vsSqlite = medianRound(rounds, (r) => r.postgres.rps / r.sqlite.rps);
    const vsBoss = medianRound(rounds, (r) => r.postgres.rps / r.boss.rps);
    const { postgres, sqlite } = vsSqlite.round;
    const { boss } = vsBoss.round;
    const pgCpu = cpuBreakdown(postgres.cpu, postgres.accepted);
    const sqliteCpu = cpuBreakdown(sqlite.cpu, sqlite.accepted);
    const bossPg = per10k(boss.cpu.postgresBackends.bench + boss.cpu.postgresShared, boss.sent);
    const bossAll = per10k(boss.cpu.postgresAll, boss.sent);
    return {
      rows: [
        { measure: 'accepted requests/s (202), PostgreSQL node vs SQLite node', value: fmt(postgres.rps), baseline: `${fmt(sqlite.rps)} (SQLite node, fsync)`, ratio: fmt(vsSqlite.ratio, 2), target: '≥ 0.50', pass: vsSqlite.ratio >= 0.5 },
        { measure: 'PostgreSQL node ingest vs pg-boss send, 50 callers', value: fmt(vsBoss.round.postgres.rps), baseline: `${fmt(boss.rps)} (pg-boss send)`, ratio: fmt(vsBoss.ratio, 2), target: '≥ 3', pass: vsBoss.ratio >= 3 },
        { measure: 'PostgreSQL CPU per 10,000 ingested (backends serving the node + PostgreSQL\'s own processes)', value: `${fmt(pgCpu.pgOwn, 2)} s`, baseline: `${fmt(bossPg, 2)} s (pg-boss send)`, ratio: '', target: '≤ 1.0 s', pass: pgCpu.pgOwn <= 1.0 },
        { measure: 'PostgreSQL CPU per 10,000, every postgres process (other users of the server included)', value: `${fmt(pgCpu.pgAll, 2)} s`, baseline: `${fmt(bossAll, 2)} s (pg-boss send)`, ratio: '', target: '', pass: undefined },
        { measure: 'Sluice node CPU per 10,000 ingested', value: `${fmt(pgCpu.nodes.node1, 2)} s`, baseline: `${fmt(sqliteCpu.nodes.node1, 2)} s (SQLite node)`, ratio: '', target: '', pass: undefined },
        { measure: 'load generator CPU per 10,000 (this process: autocannon; for pg-boss, pg-boss itself)', value: `${fmt(pgCpu.bench, 2)} s`, baseline: `${fmt(per10k(boss.cpu.processes.bench, boss.sent), 2)} s (pg-boss send)`, ratio: '', target: '', pass: undefined },
        { measure: 'sequential scans of `messages` during warm-up and measure (rows they read)', value: `${fmt(postgres.seqScans)} (${fmt(postgres.seqRows)})`, baseline: '', ratio: '', target: '', pass: undefined },
        { measure: 'latency p99', value: `${postgres.p99} ms`, baseline: `${sqlite.p99} ms (SQLite node)`, ratio: '', target: '', pass: undefined },
        { measure: 'non-2xx / errors', value: `${postgres.non2xx} / ${postgres.errors}`, baseline: `${sqlite.non2xx} / ${sqlite.errors}; pg-boss errors ${boss.errors}`, ratio: '', target: '0 / 0', pass: postgres.non2xx === 0 && postgres.errors === 0 },
      ],
      notes: [
        `Each round, back to back: a bare SQLite node (\`storage.durability: fsync\`), a bare node on PostgreSQL (a fresh schema \`bench_<pid>_<n>\`, pool of 10, dropped afterwards), then pg-boss ${PG_BOSS_VERSION} in a fresh schema of its own on the same database (pool of 10, \`supervise\` and \`schedule\` off). Sluice: autocannon, ${INGEST.connections} connections, 1 KiB JSON to \`/in/default\`, ${INGEST.seconds} s after a ${INGEST.warmupSeconds} s warm-up. pg-boss: ${INGEST.connections} async callers in this process looping \`send('bench', <the same 1 KiB JSON>)\` for ${INGEST.seconds} s after ${INGEST.warmupSeconds} s. ${ROUNDS} rounds; each ratio is shown from the round where it is the median (PostgreSQL ÷ SQLite: ${fmtRatios(vsSqlite.ratios)}; PostgreSQL ÷ pg-boss: ${fmtRatios(vsBoss.ratios)}).`,
        `CPU from /proc (utime + stime) over the ${INGEST.seconds} s. PostgreSQL's is counted two ways: the backends whose client port belongs to the measured process plus PostgreSQL's own processes (WAL writer, checkpointer, background writer; what the target is judged on), and every postgres process on the machine, which also counts the test suites that share this server. PostgreSQL CPU of the SQLite node's round: ${fmt(sqliteCpu.pgAll, 2)} s per 10,000 (all processes) — the server's load from other users, for scale.`,
        `PostgreSQL node, per 10,000: node ${fmt(pgCpu.nodes.node1, 2)} s, its PostgreSQL backends ${fmt(pgCpu.pgBackends, 2)} s, PostgreSQL's own processes ${fmt(pgCpu.pgShared, 2)} s, load generator ${fmt(pgCpu.bench, 2)} s. pg-boss send, per 10,000: pg-boss (in this process) ${fmt(per10k(boss.cpu.processes.bench, boss.sent), 2)} s, its backends ${fmt(per10k(boss.cpu.postgresBackends.bench, boss.sent), 2)} s.`,
        `Load average (1 / 5 / 15 min) ${loadBefore} at the start, ${loadNow()} at the end: the machine is shared with test suites running in parallel (some on the same PostgreSQL server), so absolute figures move; the ratios are measured in the same run.`,
      ],
    };
  },
};
