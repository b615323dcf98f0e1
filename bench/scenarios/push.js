/**
 * Scenario 4 — push with no limits against the delivery ceiling: undici `request` POSTing 1 KiB to
 * a sink in its own process, 100 in flight, vs Sluice delivering the same count to the same kind of
 * sink with `defaultDomain.concurrency: 100`. Both rates are taken at the sink, first to last arrival.
 */
import { Agent, request } from 'undici';
import { SinkProcess } from '../lib/children.js';
import { deliverAll, paddedBody, pushConfig, withSluice } from '../lib/push.js';
import { arrivalRate, fmt, fmtRatios, medianPair } from '../lib/stats.js';

const IN_FLIGHT = 100;
/** Pairs measured; the median ratio is reported (see medianPair). */
const ROUNDS = 3;

/** The delivery ceiling: `n` POSTs of 1 KiB with `IN_FLIGHT` workers on one keep-alive Agent. */
export async function deliveryCeiling(sink, n) {
  const agent = new Agent({ connections: IN_FLIGHT, keepAliveTimeout: 30_000 });
  const url = sink.url('/hook');
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const seq = next++;
      const response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(paddedBody({ seq }, 1024)),
      });
      await response.body.dump();
    }
  };
  await sink.reset();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await agent.close();
  return sink.stats();
}

export function outboundMessages(n, urlOf, bytes = 1024) {
  return Array.from({ length: n }, (_, seq) => ({ url: urlOf(seq), body: paddedBody({ seq }, bytes) }));
}

export default {
  id: 'push',
  title: 'Push, no limits, sink answers at once, vs the delivery ceiling',
  async run(ctx) {
    const n = 50_000;
    const sink = await SinkProcess.start({});
    try {
      await deliveryCeiling(sink, 5_000); // warm-up
      const config = pushConfig({ limits: { defaultDomain: { concurrency: IN_FLIGHT } } });
      let maxInFlight = 0;
      const { sluice: rate, baseline: ceiling, ratio, ratios } = await medianPair(ROUNDS, async () => {
        const baseline = arrivalRate((await deliveryCeiling(sink, n)).times);
        const stats = await withSluice(config, (sluice) => deliverAll(sluice, sink, outboundMessages(n, () => sink.url('/hook')), { timeoutMs: 300_000 }));
        maxInFlight = Math.max(maxInFlight, stats.maxInFlight);
        return { sluice: arrivalRate(stats.times), baseline };
      });
      ctx.log(`push: sluice ${fmt(rate)}/s vs ceiling ${fmt(ceiling)}/s (median of ratios ${fmtRatios(ratios)})`);
      return {
        rows: [
          { measure: 'deliveries/s seen by the sink', value: fmt(rate), baseline: `${fmt(ceiling)} (undici, 100 in flight)`, ratio: fmt(ratio, 2), target: '≥ 0.50', pass: ratio >= 0.5 },
          { measure: 'most in flight at the sink', value: fmt(maxInFlight), baseline: '', ratio: '', target: '≤ 100', pass: maxInFlight <= IN_FLIGHT },
        ],
        notes: [
          `${fmt(n)} messages of 1 KiB enqueued through \`POST /v1/messages/batch\` into the paused queue \`outbound\`, then resumed; rate = (n − 1) / (last − first arrival) at the sink, the same formula for the ceiling (after a 5,000-request warm-up). Sink in its own process, keep-alive. Ceiling and Sluice measured back to back ${ROUNDS} times; the pair with the median ratio is shown (ratios: ${fmtRatios(ratios)}).`,
        ],
      };
    } finally {
      await sink.stop();
    }
  },
};
