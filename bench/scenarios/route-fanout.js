/**
 * Routing, fan-out: ingest into a source with three routes that all match (three queues, one
 * message each, the body stored once and shared) against a source that feeds one queue, same
 * Sluice, same body, same load generator as the ingest scenario (autocannon, 50 connections).
 *
 * Where the cost goes (per-thread CPU from /proc while writing this scenario, December 2026, at
 * 6d249af, under other load): per request, the event loop went from ~63 to ~77 µs (routing, three
 * messages to build and reserve room for) and the store thread from ~37 to ~56 µs (two more message
 * rows and their index entries; the body is written once). When CPU-bound that is ~0.76 of the
 * single-queue rate, under the 0.8 target: the gap is per-message work, not the body.
 */
import { jsonBody } from '../lib/prefill.js';
import { everyAcceptedStored, measureSourcePair } from '../lib/source-pair.js';
import { fmt, fmtRatios } from '../lib/stats.js';
import { LOAD } from './ingest.js';

/** Per round: a 1 s warm-up of each source, then four 1 s slices of each, alternating (bench/lib/source-pair.js). */
const SLICES = 4;
const SLICE_SECONDS = 1;
const WARMUP_SECONDS = 1;
const ROUNDS = 3;
const TARGET = 0.8;

/** Each route reads one header, so this measures fanning out (three rows, one shared body), not conditions. */
const JSON_REQUEST = { path: 'headers.content-type', op: 'prefix', value: 'application/json' };
const FANNED = { 'fan-a': 'fanout', 'fan-b': 'fanout', 'fan-c': 'fanout', single: 'single' };

const CONFIG = {
  queues: { single: { mode: 'pull' }, 'fan-a': { mode: 'pull' }, 'fan-b': { mode: 'pull' }, 'fan-c': { mode: 'pull' } },
  sources: {
    single: { queue: 'single' },
    fanout: {
      routes: [
        { name: 'a', queue: 'fan-a', when: JSON_REQUEST },
        { name: 'b', queue: 'fan-b', when: JSON_REQUEST },
        { name: 'c', queue: 'fan-c', when: JSON_REQUEST },
      ],
    },
  },
};

export default {
  id: 'route-fanout',
  title: 'Routing: ingest fanned out to three queues vs one queue, 1 KiB JSON, 50 connections',
  async run(ctx) {
    const { round, ratio, ratios, rounds } = await measureSourcePair({
      config: CONFIG,
      routed: 'fanout',
      plain: 'single',
      queues: FANNED,
      body: jsonBody(LOAD.bodyBytes, 1).toString(),
      headers: { 'content-type': 'application/json' },
      connections: LOAD.connections,
      slices: SLICES,
      sliceSeconds: SLICE_SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      rounds: ROUNDS,
    });
    const { routed, plain } = round;
    const complete = everyAcceptedStored(rounds, FANNED, LOAD.connections);
    ctx.log(`route-fanout: three routes ${fmt(routed.rps)} req/s p99 ${routed.p99} ms; one queue ${fmt(plain.rps)} req/s p99 ${plain.p99} ms (median of ratios ${fmtRatios(ratios)})`);
    return {
      rows: [
        { measure: 'accepted requests/s (202), three matching routes', value: fmt(routed.rps), baseline: `${fmt(plain.rps)} (a source with one queue)`, ratio: fmt(ratio, 2), target: `≥ ${fmt(TARGET, 2)}`, pass: ratio >= TARGET },
        { measure: 'messages stored per second (three per routed request)', value: fmt(routed.rps * 3), baseline: `${fmt(plain.rps)}`, ratio: fmt((routed.rps * 3) / plain.rps, 2), target: '', pass: undefined },
        { measure: 'latency p99 (median slice)', value: `${routed.p99} ms`, baseline: `${plain.p99} ms`, ratio: '', target: '', pass: undefined },
        { measure: 'non-2xx / errors', value: `${routed.non2xx} / ${routed.errors}`, baseline: `${plain.non2xx} / ${plain.errors}`, ratio: '', target: '0 / 0', pass: routed.non2xx + routed.errors + plain.non2xx + plain.errors === 0 },
        { measure: 'each routed queue holds every accepted request', value: complete ? 'yes' : 'no', baseline: '', ratio: '', target: 'yes, every round', pass: complete },
      ],
      notes: [
        `One Sluice per round (\`storage.durability: fsync\`) with two sources: \`fanout\`, whose three routes (each \`headers.content-type prefix application/json\`, so all match) feed pull queues \`fan-a\`, \`fan-b\`, \`fan-c\`, and \`single\`, which feeds one pull queue. Same 1 KiB JSON body and headers to both. autocannon ${LOAD.connections} connections in the benchmark process; per round a ${WARMUP_SECONDS} s warm-up of each source, then ${SLICES} slices of ${SLICE_SECONDS} s of each, alternating (plain, routed, routed, plain, …), summed. ${ROUNDS} rounds; the round with the median ratio is shown (ratios: ${fmtRatios(ratios)}).`,
        'Messages stored per second count message rows, not bodies: a routed request is one commit of three messages that share one stored body. After each round, the stored count of every queue is compared with the 2xx its source answered (warm-up included).',
      ],
    };
  },
};
