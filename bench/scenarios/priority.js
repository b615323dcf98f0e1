/**
 * An urgent message behind 50,000 low-priority ones on a domain limited to 10 requests a second.
 * Without priorities it would wait 50,000 / 10 s ≈ 83 minutes; with them it must go next.
 *
 * One node, one push queue. The backlog (priority 1) is enqueued while the queue is paused, then
 * resumed; once deliveries are steady, one message of priority 9 is created through the API. Measured:
 * - the urgent message's time from its POST to its arrival at the sink, against the same time for a
 *   message to the same domain with no backlog (the same-run baseline: what "next" costs anyway at
 *   10/s, up to one rate interval);
 * - the backlog's delivery rate over 10 s around it, which must stay at 10/s (the urgent message
 *   takes one of those slots; it does not add one).
 */
import { SinkProcess, sleep } from '../lib/children.js';
import { enqueue, pushConfig, resume, withSluice } from '../lib/push.js';
import { fmt } from '../lib/stats.js';

const BACKLOG = 50_000;
const LIMIT = { concurrency: 10, ratePerSecond: 10, burst: 1 };
const URGENT = 1_000_000_000;
const BASELINE = 999_999_999;
const RATE_WINDOW_MS = 10_000;

/** POST one message and wait for the sink to see its seq; ms from the POST to the arrival. */
async function timeToArrival(sluice, sink, seq, priority) {
  const started = Date.now();
  await sluice.apiOk('POST', '/v1/messages', { url: sink.url('/hook'), body: { seq }, priority });
  for (const deadline = started + 60_000; Date.now() < deadline; await sleep(5)) {
    const stats = await sink.stats();
    const index = stats.seqs.indexOf(seq);
    if (index >= 0) return stats.walls[index] - started;
  }
  throw new Error(`message ${seq} did not arrive within 60 s`);
}

export default {
  id: 'priority',
  title: 'An urgent message behind 50,000 low-priority ones on a domain limited to 10/s',
  async run(ctx) {
    const sink = await SinkProcess.start({ recordBody: true });
    try {
      const config = pushConfig({ limits: { domains: { [sink.domain()]: LIMIT } } });
      const result = await withSluice(config, async (sluice) => {
        await resume(sluice);
        const baselineMs = await timeToArrival(sluice, sink, BASELINE, 9);
        await sluice.apiOk('POST', '/v1/queues/outbound/pause');
        await enqueue(sluice, Array.from({ length: BACKLOG }, (_, seq) => ({ url: sink.url('/hook'), body: { seq }, priority: 1 })));
        await sink.reset();
        await resume(sluice);
        await sink.waitForCount(20, 30_000, 20); // steady: past the first claims
        const windowStart = Date.now();
        await sleep(RATE_WINDOW_MS / 2);
        const urgentMs = await timeToArrival(sluice, sink, URGENT, 9);
        await sleep(Math.max(0, windowStart + RATE_WINDOW_MS - Date.now()));
        const stats = await sink.stats();
        const inWindow = stats.walls.filter((wall) => wall >= windowStart && wall < windowStart + RATE_WINDOW_MS).length;
        const ahead = stats.seqs.indexOf(URGENT);
        return { baselineMs, urgentMs, rate: inWindow / (RATE_WINDOW_MS / 1000), deliveredBefore: ahead, lowSeqs: stats.seqs.filter((seq) => seq < BACKLOG) };
      });
      const fifo = result.lowSeqs.every((seq, index) => index === 0 || seq > result.lowSeqs[index - 1]);
      ctx.log(`priority: urgent ${fmt(result.urgentMs, 0)} ms (baseline ${fmt(result.baselineMs, 0)} ms), backlog ${fmt(result.rate, 2)}/s, FIFO kept ${fifo}`);
      return {
        rows: [
          {
            measure: `urgent message (priority 9) behind ${BACKLOG.toLocaleString('en-US')} of priority 1: POST to arrival`,
            value: `${fmt(result.urgentMs, 0)} ms`,
            baseline: `${fmt(result.baselineMs, 0)} ms (no backlog)`,
            ratio: fmt(result.urgentMs / Math.max(1, result.baselineMs), 2),
            target: '< 1 s',
            pass: result.urgentMs < 1_000,
          },
          {
            measure: `backlog delivery rate over ${RATE_WINDOW_MS / 1000} s around it`,
            value: `${fmt(result.rate, 2)}/s`,
            baseline: '10/s',
            ratio: fmt(result.rate / 10, 3),
            target: '10/s (−3 % / +1 %)',
            pass: result.rate >= 9.7 && result.rate <= 10.1,
          },
          { measure: 'the backlog kept FIFO within its priority', value: String(fifo), baseline: '', ratio: '', target: 'true', pass: fifo },
        ],
        notes: [
          `Domain limit ${JSON.stringify(LIMIT)}. Without priorities the urgent message would have waited for the ${BACKLOG.toLocaleString('en-US')} before it: about ${fmt(BACKLOG / 10 / 60, 0)} minutes. ${result.deliveredBefore} messages had arrived before it, all of them sent before it was created or already on their way.`,
          'The baseline is the same POST-to-arrival time with an empty queue on the same domain and node, measured first; at 10/s either waits for its rate cell (up to 100 ms).',
        ],
      };
    } finally {
      await sink.stop();
    }
  },
};
