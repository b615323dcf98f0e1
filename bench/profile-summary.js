/**
 * Summarise V8 CPU profiles (from SLUICE_BENCH_PROF=<dir> node bench/run.js …): the functions with
 * the most self time, so a missed target can be explained. Usage: node bench/profile-summary.js <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/profile-summary.js <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8'));
const selfMicros = new Map();
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const gaps = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i += 1) {
  const node = byId.get(profile.samples[i]);
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  selfMicros.set(key, (selfMicros.get(key) ?? 0) + (gaps[i] ?? 0));
}
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
const top = [...selfMicros].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25));
for (const [key, micros] of top) process.stdout.write(`${((100 * micros) / total).toFixed(1).padStart(5)} %  ${key}\n`);
