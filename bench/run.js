/**
 * `npm run bench`: run the scenarios of PERF.md, each with its same-run baseline, and write
 * docs/BENCHMARKS.md. Arguments: scenario ids to run only those (e.g. `node bench/run.js ingest push`),
 * `--full` for 10 M stored messages instead of 1 M. A partial run writes
 * bench/out/BENCHMARKS.md instead, so the committed report always holds a whole run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import crash from './scenarios/crash.js';
import domains from './scenarios/domains.js';
import ingest from './scenarios/ingest.js';
import isolation from './scenarios/isolation.js';
import limits from './scenarios/limits.js';
import pull from './scenarios/pull.js';
import push from './scenarios/push.js';
import { lateness, spacing } from './scenarios/schedule.js';
import stored from './scenarios/stored.js';
import { describeMachine } from './lib/machine.js';
import { renderReport } from './lib/report.js';
import { MAIN, requireBuild } from './lib/sluice-process.js';
import { execFileSync } from 'node:child_process';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SCENARIOS = [ingest, stored, pull, push, limits, lateness, spacing, isolation, domains, crash];
const NO_POSTGRES_SERVER = 'the PostgreSQL store is not wired into the server yet (bench/probes/pg-store.js measures the store alone)';
const NOT_MEASURED = [
  { title: 'Ingest, one node on PostgreSQL', target: '≥ 0.50 × one node on SQLite; PostgreSQL CPU ≤ 1.0 s per 10,000', why: NO_POSTGRES_SERVER },
  { title: 'Pull + ack on PostgreSQL, 50,000 waiting', target: '≥ 3 × pg-boss fetch + complete; no slower at 500,000 than at 5,000', why: NO_POSTGRES_SERVER },
  { title: 'PostgreSQL + 3 nodes', target: 'ingest ≥ 2 × one node on PostgreSQL; limits still hold', why: NO_POSTGRES_SERVER },
];

function parseArgs(argv) {
  const full = argv.includes('--full');
  const ids = argv.filter((a) => !a.startsWith('--'));
  const unknown = ids.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  const chosen = ids.length > 0 ? SCENARIOS.filter((s) => ids.includes(s.id)) : SCENARIOS;
  return { full, chosen, whole: chosen.length === SCENARIOS.length };
}

async function runOne(scenario, ctx) {
  const started = Date.now();
  ctx.log(`── ${scenario.id}: ${scenario.title}`);
  try {
    const result = await scenario.run(ctx);
    return { id: scenario.id, title: scenario.title, ...result, seconds: Math.round((Date.now() - started) / 1000) };
  } catch (error) {
    ctx.log(`${scenario.id} failed: ${error.stack ?? error}`);
    return { id: scenario.id, title: scenario.title, rows: [], notes: [], error: String(error.message ?? error).split('\n')[0], seconds: Math.round((Date.now() - started) / 1000) };
  }
}

/** Which code was measured: the commit, and the CLI path when SLUICE_BENCH_MAIN points elsewhere. */
function describeBuild() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const own = join(ROOT, 'dist', 'cli', 'main.js');
  return MAIN === own ? `dist/ of commit ${commit}` : `${MAIN} (SLUICE_BENCH_MAIN), tree at commit ${commit}${process.env.SLUICE_BENCH_NOTE ? `: ${process.env.SLUICE_BENCH_NOTE}` : ''}`;
}

async function main() {
  requireBuild();
  const { full, chosen, whole } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const ctx = { full, log: (line) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`) };
  const results = [];
  for (const scenario of chosen) results.push(await runOne(scenario, ctx));
  const machine = {
    ...describeMachine('fsync'),
    dataDir: tmpdir(),
    build: describeBuild(),
    command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    totalSeconds: Math.round((Date.now() - started) / 1000),
  };
  const markdown = renderReport({ machine, results, notMeasured: whole ? NOT_MEASURED : [] });
  const target = whole ? join(ROOT, 'docs', 'BENCHMARKS.md') : join(ROOT, 'bench', 'out', 'BENCHMARKS.md');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, markdown);
  mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'out', 'results.json'), JSON.stringify({ machine, results }, null, 2));
  ctx.log(`wrote ${target}`);
  const misses = results.flatMap((r) => (r.error ? [`${r.id}: failed`] : r.rows.filter((row) => row.pass === false).map((row) => `${r.id}: ${row.measure}`)));
  ctx.log(misses.length ? `targets missed:\n  ${misses.join('\n  ')}` : 'all targets met');
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
