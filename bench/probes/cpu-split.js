/**
 * Probe: where the CPU goes under the ingest benchmark's load. Measures bare node:http and Sluice (as
 * `npm run bench` starts it) for 8 s each after a 2 s warm-up, and prints the CPU each thread of the
 * server used per request (from /proc, Linux only), with the load generator's own share.
 * Usage: npm run build && node bench/probes/cpu-split.js
 */
import { readdirSync, readFileSync } from 'node:fs';
import { startBareHttp } from '../lib/children.js';
import { hammer, withBareSluice } from '../scenarios/ingest.js';

const SECONDS = 8;
const TICK_MS = 10; // /proc reports CPU time in clock ticks of 10 ms

/** CPU milliseconds used so far by each thread of `pid`, by thread id. */
function threadCpu(pid) {
  const used = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    used.set(tid, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
  }
  return used;
}

async function split(label, url, pid) {
  await hammer(url, 2);
  const before = threadCpu(pid);
  const ownBefore = process.cpuUsage();
  const result = await hammer(url, SECONDS);
  const after = threadCpu(pid);
  const own = process.cpuUsage(ownBefore);
  const requests = result.rps * SECONDS;
  const perRequest = (ms) => `${((ms * 1000) / requests).toFixed(1)} µs`;
  console.log(`${label}: ${Math.round(result.rps)} req/s; load generator ${perRequest((own.user + own.system) / 1000)} per request`);
  const busy = [...after].map(([tid, ms]) => [tid, ms - (before.get(tid) ?? 0)]).filter(([, ms]) => ms > 0);
  for (const [tid, ms] of busy.sort((a, b) => b[1] - a[1])) {
    console.log(`  thread ${tid}: ${perRequest(ms)} per request, ${(ms / (SECONDS * 1000)).toFixed(2)} cores`);
  }
}

const bare = await startBareHttp();
await split('bare node:http', `${bare.url}/in/default`, bare.child.pid);
await bare.stop();
await withBareSluice((sluice) => split('sluice', `${sluice.url}/in/default`, sluice.child.pid));
