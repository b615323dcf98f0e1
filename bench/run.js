/**
 * `npm run bench`: run the scenarios of PERF.md, each with its same-run baseline, and write
 * docs/BENCHMARKS.md. Arguments: scenario ids to run only those (e.g. `node bench/run.js ingest push`),
 * `--full` for 10 M stored messages instead of 1 M. The PostgreSQL scenarios (`pg-*`, reported under
 * one "PostgreSQL" heading) use SLUICE_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
 * and are listed as not measured when it does not answer. A partial run writes
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
import paced from './scenarios/paced.js';
import priority from './scenarios/priority.js';
import pull from './scenarios/pull.js';
import push from './scenarios/push.js';
import routeConditions from './scenarios/route-conditions.js';
import routeFanout from './scenarios/route-fanout.js';
import pgBacklog from './scenarios/pg-backlog.js';
import pgIngest from './scenarios/pg-ingest.js';
import pgNodes from './scenarios/pg-nodes.js';
import pgPull from './scenarios/pg-pull.js';
import pgPush from './scenarios/pg-push.js';
import pgRedis from './scenarios/pg-redis.js';
import { lateness, spacing } from './scenarios/schedule.js';
import stored from './scenarios/stored.js';
import workflows from './scenarios/workflows.js';
import { describeMachine, loadNow } from './lib/machine.js';
import { renderReport } from './lib/report.js';
import { MAIN, requireBuild } from './lib/sluice-process.js';
import { execFileSync } from 'node:child_process';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SCENARIOS = [ingest, stored, routeFanout, routeConditions, pull, push, limits, paced, priority, workflows, lateness, spacing, isolation, domains, crash, pgIngest, pgPull, pgBacklog, pgNodes, pgPush, pgRedis];
const NOT_MEASURED = [];

function parseArgs(argv) {
  const full = argv.includes('--full');
  const ids = argv.filter((a) => !a.startsWith('--'));
  const unknown = ids.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  const chosen = ids.length > 0 ? SCENARIOS.filter((s) => ids.includes(s.id)) : SCENARIOS;
  return { full, chosen, whole: chosen.length === SCENARIOS.length };
}

/** An error in a line or two for the report: the first lines, not the stack (sluice's own reason is on its second line). */
function firstLines(error) {
  const text = String(error.message ?? error).split('\n').map((line) => line.trim()).filter(Boolean).slice(0, 3).join(' ');
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

async function runOne(scenario, ctx) {
  const started = Date.now();
  ctx.log(`── ${scenario.id}: ${scenario.title}`);
  try {
    const result = await scenario.run(ctx);
    if (result.skipped) ctx.log(`${scenario.id} not measured: ${result.skipped}`);
    return { id: scenario.id, title: scenario.title, section: scenario.section, ...result, seconds: Math.round((Date.now() - started) / 1000) };
  } catch (error) {
    ctx.log(`${scenario.id} failed: ${error.stack ?? error}`);
    return { id: scenario.id, title: scenario.title, section: scenario.section, rows: [], notes: [], error: firstLines(error), seconds: Math.round((Date.now() - started) / 1000) };
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
  const loadAtStart = loadNow();
  const build = describeBuild(); // dist/ is what `npm run bench` built just before: the commit at the start
  const ctx = { full, log: (line) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`) };
  const results = [];
  for (const scenario of chosen) results.push(await runOne(scenario, ctx));
  const machine = {
    ...describeMachine('fsync'),
    dataDir: tmpdir(),
    load: { start: loadAtStart, end: loadNow() },
    build,
    command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    totalSeconds: Math.round((Date.now() - started) / 1000),
  };
  const skipped = results.filter((r) => r.skipped).map((r) => ({ title: r.title, target: 'see PERF.md', why: r.skipped }));
  const measured = results.filter((r) => !r.skipped);
  const markdown = renderReport({ machine, results: measured, notMeasured: [...skipped, ...(whole ? NOT_MEASURED : [])] });
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
