/**
 * Scenario 1 — durable ingest against the HTTP ceiling. Both servers run in child processes;
 * autocannon (50 connections, 10 s, 1 KiB JSON) runs here, after a short warm-up of each.
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBareHttp } from '../lib/children.js';
import { jsonBody } from '../lib/prefill.js';
import { startSluice } from '../lib/sluice-process.js';
import { fmt, fmtRatios, medianPair } from '../lib/stats.js';

export const LOAD = { connections: 50, seconds: 10, warmupSeconds: 2, bodyBytes: 1024 };

/** Run autocannon against `url`; returns { rps, p99, non2xx, errors, total }. */
export async function hammer(url, seconds = LOAD.seconds) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: LOAD.connections,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    body: jsonBody(LOAD.bodyBytes, 1).toString(),
  });
  return {
    rps: result['2xx'] / seconds,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

/** Warm up, then measure. */
export async function measureIngest(url) {
  await hammer(url, LOAD.warmupSeconds);
  return hammer(url);
}

/** Bare Sluice (source default → pull queue default) in a fresh dir; `work(sluice, dir)`. */
export async function withBareSluice(work, prepare) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  let sluice;
  try {
    sluice = await startSluice(dir);
    if (prepare) {
      await sluice.stop();
      await prepare(sluice.dbPath);
      sluice = await startSluice(dir);
    }
    return await work(sluice, dir);
  } finally {
    await sluice?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Pairs measured; the median ratio is reported (see medianPair). */
const ROUNDS = 3;

export default {
  id: 'ingest',
  title: 'Ingest, durable (fsync), 1 KiB JSON, 50 connections, 10 s',
  async run(ctx) {
    // Ceiling and Sluice back to back, three times; the pair with the median ratio is reported.
    const pairs = [];
    const { ratio, ratios } = await medianPair(ROUNDS, async () => {
      const bare = await startBareHttp();
      let ceiling;
      try {
        ceiling = await measureIngest(`${bare.url}/in/default`);
      } finally {
        await bare.stop();
      }
      const sluice = await withBareSluice((s) => measureIngest(`${s.url}/in/default`));
      pairs.push({ ceiling, sluice, ratio: sluice.rps / ceiling.rps });
      return { sluice: sluice.rps, baseline: ceiling.rps };
    });
    const { ceiling, sluice } = pairs.find((pair) => pair.ratio === ratio);
    ctx.log(`ingest: sluice ${fmt(sluice.rps)} req/s p99 ${sluice.p99} ms; ceiling ${fmt(ceiling.rps)} req/s p99 ${ceiling.p99} ms (median of ratios ${fmtRatios(ratios)})`);
    return {
      rows: [
        { measure: 'accepted requests/s (202)', value: fmt(sluice.rps), baseline: `${fmt(ceiling.rps)} (bare node:http)`, ratio: fmt(ratio, 2), target: '≥ 0.70', pass: ratio >= 0.7 },
        { measure: 'latency p99', value: `${sluice.p99} ms`, baseline: `${ceiling.p99} ms`, ratio: '', target: '≤ 20 ms', pass: sluice.p99 <= 20 },
        { measure: 'non-2xx / errors', value: `${sluice.non2xx} / ${sluice.errors}`, baseline: `${ceiling.non2xx} / ${ceiling.errors}`, ratio: '', target: '0 / 0', pass: sluice.non2xx === 0 && sluice.errors === 0 },
      ],
      notes: [
        `autocannon ${LOAD.connections} connections, ${LOAD.seconds} s after a ${LOAD.warmupSeconds} s warm-up, in the benchmark process; each server in its own child process. Sluice bare (source \`default\` → pull queue \`default\`), \`storage.durability: fsync\`. Ceiling and Sluice measured back to back ${ROUNDS} times; the pair with the median ratio is shown (ratios: ${fmtRatios(ratios)}).`,
      ],
    };
  },
};
