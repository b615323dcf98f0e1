/**
 * Scenario 3 — one consumer pulling batches of 100 and acking them, sequentially, from a
 * prefilled pull queue.
 */
import { Pool } from 'undici';
import { prefillMessages } from '../lib/prefill.js';
import { postJson } from '../lib/sluice-process.js';
import { startBareHttp } from '../lib/children.js';
import { fmt } from '../lib/stats.js';
import { withBareSluice } from './ingest.js';

const BATCH = 100;
const MAX_SECONDS = 20;

/** Pull and ack until `total` are acked or MAX_SECONDS pass; returns { acked, seconds }. */
async function consume(url, total) {
  const pool = new Pool(url, { connections: 1 });
  const started = performance.now();
  let acked = 0;
  try {
    while (acked < total && performance.now() - started < MAX_SECONDS * 1000) {
      const { messages } = await postJson(pool, '/v1/queues/default/pull', { max: BATCH });
      if (messages.length === 0) break;
      const result = await postJson(pool, '/v1/queues/default/ack', { receipts: messages.map((m) => m.receipt) });
      acked += result.acked;
    }
    return { acked, seconds: (performance.now() - started) / 1000 };
  } finally {
    await pool.close();
  }
}

export default {
  id: 'pull',
  title: 'Pull + ack, batches of 100, one consumer',
  async run(ctx) {
    const total = 200_000;
    const bare = await startBareHttp('pull');
    let ceiling;
    try {
      ceiling = await consume(bare.url, total);
    } finally {
      await bare.stop();
    }
    const ceilingRate = ceiling.acked / ceiling.seconds;
    const result = await withBareSluice(
      (sluice) => consume(sluice.url, total),
      (dbPath) => prefillMessages(dbPath, { count: total, queue: 'default', state: 'ready', bodyBytes: 1024 }),
    );
    const rate = result.acked / result.seconds;
    ctx.log(`pull: ${fmt(result.acked)} in ${fmt(result.seconds, 1)} s = ${fmt(rate)}/s; bare HTTP answering the same exchange ${fmt(ceilingRate)}/s`);
    return {
      rows: [
        {
          measure: 'messages pulled and acked per second',
          value: fmt(rate),
          baseline: `${fmt(ceilingRate)} (bare node:http, no storage)`,
          ratio: fmt(rate / ceilingRate, 2),
          target: '≥ 50,000',
          pass: rate >= 50_000,
        },
      ],
      notes: [
        `${fmt(total)} ready 1 KiB messages prefilled in pull queue \`default\`; one consumer on one keep-alive connection, \`pull {max: 100}\` then \`ack\` of the receipts, in sequence; ${fmt(result.acked)} acked in ${fmt(result.seconds, 1)} s (stops after ${MAX_SECONDS} s at most). The target is absolute; the baseline is for scale: the same consumer against a bare node:http server that stores nothing and answers each pull with ready-made messages of the same shape (1 KiB bodies, same fields, rendered per request) and each ack at once.`,
      ],
    };
  },
};
