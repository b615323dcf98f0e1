/**
 * Probe: how close could a journal-first ingest come to the HTTP ceiling on this machine? Runs the
 * ingest benchmark's load (autocannon, 50 connections, 1 KiB JSON) against bare node:http and against
 * journal-first-server.js in each mode, back to back, ROUNDS times, and prints each ratio. Not part of
 * `npm run bench`: it measures a design, not Sluice (docs/PERFORMANCE.md has the figures).
 * Usage: npm run build && node bench/probes/journal-first.js [rounds]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startBareHttp } from '../lib/children.js';
import { percentile } from '../lib/stats.js';
import { measureIngest } from '../scenarios/ingest.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const MODES = ['nosync', 'journal', 'rows', 'full'];
const SERVER = fileURLToPath(new URL('./journal-first-server.js', import.meta.url));

function startProbe(mode) {
  const child = fork(SERVER, [mode]);
  return new Promise((resolve) =>
    child.once('message', ({ port }) => resolve({ url: `http://127.0.0.1:${port}`, stop: () => child.disconnect() })),
  );
}

const ratios = Object.fromEntries(MODES.map((mode) => [mode, []]));
for (let round = 1; round <= ROUNDS; round += 1) {
  const bare = await startBareHttp();
  const ceiling = await measureIngest(`${bare.url}/in/default`);
  await bare.stop();
  const line = [`round ${round}: ceiling ${Math.round(ceiling.rps)} req/s`];
  for (const mode of MODES) {
    const probe = await startProbe(mode);
    const result = await measureIngest(`${probe.url}/in/default`);
    probe.stop();
    ratios[mode].push(result.rps / ceiling.rps);
    line.push(`${mode} ${(result.rps / ceiling.rps).toFixed(2)} (p99 ${result.p99} ms)`);
  }
  console.log(line.join('; '));
}
console.log(`median × ceiling: ${MODES.map((mode) => `${mode} ${percentile(ratios[mode], 50).toFixed(2)}`).join(', ')}`);
