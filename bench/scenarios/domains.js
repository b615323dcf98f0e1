/**
 * Scenario 9 — dispatch cost with 100,000 distinct domains holding ready messages against the same
 * number of messages on one domain. Every domain is a distinct loopback address 127.A.B.C on one
 * sink listening on 0.0.0.0; the sink answers `connection: close` in both runs so that both pay one
 * TCP connection per message and the difference is what Sluice spends per domain.
 */
import { SinkProcess } from '../lib/children.js';
import { deliverAll, paddedBody, pushConfig, withSluice } from '../lib/push.js';
import { arrivalRate, fmt } from '../lib/stats.js';

/** The i-th distinct loopback host, avoiding .0 and .255 octets and 127.0.x.x. */
export function loopbackHost(i) {
  const c = 1 + (i % 254);
  const b = 1 + (Math.floor(i / 254) % 254);
  const a = 10 + Math.floor(i / (254 * 254));
  return `127.${a}.${b}.${c}`;
}

export default {
  id: 'domains',
  title: '100,000 distinct domains with ready messages vs one domain',
  async run(ctx) {
    const n = 100_000;
    const sink = await SinkProcess.start({ host: '0.0.0.0', close: true, countHosts: true });
    try {
      const config = pushConfig({ limits: { defaultDomain: { concurrency: 100 }, global: { concurrency: 100 } } });
      const rateFor = async (hostOf) => {
        const messages = Array.from({ length: n }, (_, seq) => ({ url: sink.url('/hook', hostOf(seq)), body: paddedBody({ seq }, 128) }));
        const stats = await withSluice(config, (sluice) => deliverAll(sluice, sink, messages, { timeoutMs: 400_000 }));
        return { rate: arrivalRate(stats.times), hosts: stats.distinctHosts };
      };
      const one = await rateFor(() => '127.0.0.1');
      const many = await rateFor(loopbackHost);
      const costRatio = one.rate / many.rate;
      ctx.log(`domains: ${fmt(many.rate)}/s over ${fmt(many.hosts)} domains vs ${fmt(one.rate)}/s on one`);
      return {
        rows: [
          { measure: `dispatch cost per message, ${fmt(many.hosts)} domains vs 1 (inverse of messages/s)`, value: `${fmt(1000 / many.rate, 3)} ms (${fmt(many.rate)}/s)`, baseline: `${fmt(1000 / one.rate, 3)} ms (${fmt(one.rate)}/s, one domain)`, ratio: fmt(costRatio, 2), target: '≤ 2.0', pass: costRatio <= 2 },
        ],
        notes: [
          `What is measured: end-to-end deliveries/s through Sluice (at the sink, first to last arrival) for ${fmt(n)} messages of 128 B, one per domain across ${fmt(n)} distinct domains (loopback addresses 127.10.1.1 … on one sink bound to 0.0.0.0), against ${fmt(n)} messages to the single domain 127.0.0.1. Cost per message = 1 / rate; the ratio is many ÷ one. Both runs: \`defaultDomain.concurrency: 100\` and \`global.concurrency: 100\` (so both have at most 100 in flight), and the sink answers \`connection: close\`, so both pay one TCP connection per message (100,000 kept-alive sockets would exceed the file-descriptor limit) — the difference is Sluice's per-domain work: lane discovery and claiming, domain state, a connection pool per origin.`,
        ],
      };
    } finally {
      await sink.stop();
    }
  },
};
