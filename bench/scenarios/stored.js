/**
 * Scenario 2 — ingest with a large stored backlog (1 M finished messages; 10 M with --full) against
 * the same on an empty store, and the RSS of the Sluice process meanwhile.
 */
import { prefillMessages } from '../lib/prefill.js';
import { fmt } from '../lib/stats.js';
import { measureIngest, withBareSluice } from './ingest.js';

const MiB = 2 ** 20;

/** Measure ingest while sampling VmRSS every 200 ms; returns the ingest figures plus peak RSS. */
async function measureWithRss(sluice) {
  let peak = sluice.rssBytes() ?? 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, sluice.rssBytes() ?? 0);
  }, 200);
  try {
    const result = await measureIngest(`${sluice.url}/in/default`);
    return { ...result, rss: Math.max(peak, sluice.rssBytes() ?? 0) };
  } finally {
    clearInterval(sampler);
  }
}

export default {
  id: 'stored',
  title: 'Ingest with a large stored backlog vs an empty store',
  async run(ctx) {
    const stored = ctx.full ? 10_000_000 : 1_000_000;
    let prefillSeconds = 0;
    const full = await withBareSluice(measureWithRss, (dbPath) => {
      const started = Date.now();
      prefillMessages(dbPath, { count: stored, queue: 'default', state: 'acked', bodyBytes: 1024 });
      prefillSeconds = (Date.now() - started) / 1000;
      ctx.log(`stored: prefilled ${fmt(stored)} rows in ${fmt(prefillSeconds, 1)} s`);
    });
    const empty = await withBareSluice(measureWithRss);
    const ratio = full.rps / empty.rps;
    ctx.log(`stored: ${fmt(full.rps)} vs ${fmt(empty.rps)} req/s, RSS ${fmt(full.rss / MiB)} MiB`);
    return {
      rows: [
        { measure: `accepted requests/s with ${fmt(stored)} stored`, value: fmt(full.rps), baseline: `${fmt(empty.rps)} (empty store)`, ratio: fmt(ratio, 2), target: '≥ 0.80', pass: ratio >= 0.8 },
        { measure: 'latency p99', value: `${full.p99} ms`, baseline: `${empty.p99} ms`, ratio: '', target: '', pass: undefined },
        { measure: 'peak RSS of Sluice during the load', value: `${fmt(full.rss / MiB)} MiB`, baseline: `${fmt(empty.rss / MiB)} MiB`, ratio: '', target: '≤ 300 MB', pass: full.rss <= 300 * 1e6 },
      ],
      notes: [
        `${fmt(stored)} messages (1 KiB bodies, state \`acked\`, the backlog that retention keeps) written straight into the SQLite file with \`queue_counts\` kept exact, in ${fmt(prefillSeconds, 1)} s, before Sluice starts. ${ctx.full ? '' : 'PERF.md asks for 10 M: run `node bench/run.js --full stored` for that.'}`,
        'RSS: VmRSS from /proc/<pid>/status, sampled every 200 ms during warm-up and load.',
      ],
    };
  },
};
