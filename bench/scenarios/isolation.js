/**
 * Scenario 8 — one slow domain (5 s responses, 127.0.0.2) beside a fast one (127.0.0.3): the fast
 * domain's delivery rate with the slow one present against the same run without it.
 */
import { SinkProcess } from '../lib/children.js';
import { deliverAll, paddedBody, pushConfig, withSluice } from '../lib/push.js';
import { arrivalRate, fmt, fmtRatios, medianPair } from '../lib/stats.js';

const FAST = 50_000;
const SLOW = 1_000;
/** Pairs measured; the median ratio is reported (see medianPair). */
const ROUNDS = 3;

function mixed(fast, slow, withSlow) {
  const messages = [];
  for (let seq = 0; seq < FAST; seq += 1) {
    messages.push({ url: fast.url('/hook'), body: paddedBody({ seq }, 1024) });
    if (withSlow && seq % (FAST / SLOW) === 0) messages.push({ url: slow.url('/hook'), body: paddedBody({ seq }, 1024) });
  }
  return messages;
}

export default {
  id: 'isolation',
  title: 'One slow domain (5 s responses) beside a fast one',
  async run(ctx) {
    const fast = await SinkProcess.start({ host: '127.0.0.3' });
    const slow = await SinkProcess.start({ host: '127.0.0.2', delayMs: 5_000 });
    try {
      const config = pushConfig({ limits: { defaultDomain: { concurrency: 100 } } });
      const rateOf = async (withSlow) => {
        const stats = await withSluice(config, (sluice) => deliverAll(sluice, fast, mixed(fast, slow, withSlow), { expect: FAST, timeoutMs: 300_000 }));
        return arrivalRate(stats.times);
      };
      let slowSeen = 0;
      const { sluice: beside, baseline: alone, ratio, ratios } = await medianPair(ROUNDS, async () => {
        await slow.reset();
        const baseline = await rateOf(false);
        const sluice = await rateOf(true);
        slowSeen = (await slow.count()).count;
        return { baseline, sluice };
      });
      ctx.log(`isolation: fast ${fmt(beside)}/s beside slow vs ${fmt(alone)}/s alone (median of ratios ${fmtRatios(ratios)}); slow sink saw ${slowSeen}`);
      return {
        rows: [
          { measure: 'fast domain deliveries/s with the slow domain busy', value: fmt(beside), baseline: `${fmt(alone)} (fast domain alone)`, ratio: fmt(ratio, 2), target: '≥ 0.90', pass: ratio >= 0.9 },
          { measure: 'requests the slow domain received meanwhile (last round)', value: fmt(slowSeen), baseline: '', ratio: '', target: '', pass: undefined },
        ],
        notes: [
          `${fmt(FAST)} 1 KiB messages to 127.0.0.3 (sink answering at once) interleaved with ${fmt(SLOW)} to 127.0.0.2 (sink answering after 5 s), one queue, \`defaultDomain.concurrency: 100\`, so the slow domain holds its 100 slots for the whole run. Each sink in its own process. Rate measured at the fast sink, first to last arrival. Alone and beside measured back to back ${ROUNDS} times; the pair with the median ratio is shown (ratios: ${fmtRatios(ratios)}).`,
        ],
      };
    } finally {
      await fast.stop();
      await slow.stop();
    }
  },
};
