/**
 * Routing, conditions: what 20 conditions cost per request. (a) In this process, chooseRoutes of the
 * built code on a Stripe-like `invoice.paid` event, through four routes of five conditions (20 in
 * all, every one evaluated), against JSON.parse of the same body, the part no body condition can
 * avoid. (b) End to end: ingest into a source whose one route holds 20 conditions against a source
 * that feeds one queue, same Sluice, same body, same load generator as the ingest scenario.
 */
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAIN } from '../lib/sluice-process.js';
import { everyAcceptedStored, measureSourcePair } from '../lib/source-pair.js';
import { fmt, fmtRatios, medianRound } from '../lib/stats.js';
import { LOAD } from './ingest.js';

/** Per round: a 1 s warm-up of each source, then four 1 s slices of each, alternating (bench/lib/source-pair.js). */
const SLICES = 4;
const SLICE_SECONDS = 1;
const WARMUP_SECONDS = 1;
const ROUNDS = 3;
/** Micro: rounds of each side, alternating, and how long each round runs at least. */
const MICRO_ROUNDS = 7;
const MICRO_ROUND_MS = 250;

/**
 * (a) Evaluating 20 conditions may cost at most as much again as parsing the body they read: the
 * parse is the floor of any body condition, and the evaluator's own work (path splits, member
 * reads, comparisons) should not outweigh it.
 */
const MICRO_TARGET = 2.0;
/**
 * (b) Sluice's event loop spends ~80 µs per ingested request (PERF.md, bench/probes/cpu-split.js),
 * and ingest never parses the body; the route adds one parse of this 1.7 KiB body and 20 reads,
 * (a)'s figure, ~10-20 µs. Added whole to the loop's cost per request that is 0.80-0.89 of the
 * plain rate, so 0.80 is where a slower evaluator (or a second parse) shows.
 */
const E2E_TARGET = 0.8;

/** A Stripe `invoice.paid` event as Stripe sends it, trimmed to the fields an invoice has most often. */
const EVENT = {
  id: 'evt_1QZxYb2eZvKYlo2CkS7q0Xyz',
  object: 'event',
  api_version: '2024-06-20',
  created: 1764846000,
  data: {
    object: {
      id: 'in_1QZxYa2eZvKYlo2C5pLk8Abc',
      object: 'invoice',
      account_country: 'DE',
      account_name: 'Example GmbH',
      amount_due: 4900,
      amount_paid: 4900,
      amount_remaining: 0,
      attempt_count: 1,
      attempted: true,
      billing_reason: 'subscription_cycle',
      collection_method: 'charge_automatically',
      created: 1764842400,
      currency: 'eur',
      customer: 'cus_R2xYb2eZvKYlo2',
      customer_email: 'billing@customer.example',
      customer_name: 'Customer Ltd',
      hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1Nv0FGQ9RKHgCVdK/test_YWNjdF8xTnYwRkdROVJLSGdDVmRLLF9SMnhZYjJlWnZLWWxvMg',
      lines: {
        object: 'list',
        data: [
          {
            id: 'il_1QZxYa2eZvKYlo2CqWe3Rty',
            object: 'line_item',
            amount: 4900,
            currency: 'eur',
            description: '1 × Pro plan (at €49.00 / month)',
            period: { end: 1767520800, start: 1764842400 },
            price: { id: 'price_1Nv0HkQ9RKHgCVdKpro', object: 'price', currency: 'eur', product: 'prod_OiQ9RKHgCVdKpro', recurring: { interval: 'month', interval_count: 1 }, unit_amount: 4900 },
            quantity: 1,
            type: 'subscription',
          },
        ],
        has_more: false,
        total_count: 1,
        url: '/v1/invoices/in_1QZxYa2eZvKYlo2C5pLk8Abc/lines',
      },
      livemode: false,
      metadata: { tenant: 'acme', plan: 'pro' },
      number: 'EXMPL-0042',
      paid: true,
      paid_out_of_band: false,
      payment_intent: 'pi_3QZxYb2eZvKYlo2C1aBcDeFg',
      period_end: 1764842400,
      period_start: 1762164000,
      status: 'paid',
      status_transitions: { finalized_at: 1764846000, paid_at: 1764846000 },
      subscription: 'sub_1Nv0IuQ9RKHgCVdKsub',
      subtotal: 4900,
      tax: 0,
      total: 4900,
    },
  },
  livemode: false,
  pending_webhooks: 2,
  request: { id: null, idempotency_key: null },
  type: 'invoice.paid',
};

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
  'stripe-signature': 't=1764846001,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd',
  'cache-control': 'no-cache',
};

/** Twenty conditions, all of which hold for EVENT, so `all` evaluates every one. */
const CONDITIONS = [
  { path: 'method', op: 'eq', value: 'POST' },
  { path: 'headers.content-type', op: 'prefix', value: 'application/json' },
  { path: 'headers.user-agent', op: 'prefix', value: 'Stripe/' },
  { path: 'headers.stripe-signature', op: 'exists' },
  { path: 'body.data.object.amount_remaining', op: 'lte', value: 0 },
  { path: 'body.type', op: 'prefix', value: 'invoice.' },
  { path: 'body.type', op: 'in', value: ['invoice.paid', 'invoice.payment_succeeded', 'invoice.finalized'] },
  { path: 'body.livemode', op: 'eq', value: false },
  { path: 'body.api_version', op: 'gte', value: '2023-10-16' },
  { path: 'body.created', op: 'gt', value: 1700000000 },
  { path: 'body.data.object.object', op: 'eq', value: 'invoice' },
  { path: 'body.data.object.status', op: 'eq', value: 'paid' },
  { path: 'body.data.object.currency', op: 'in', value: ['eur', 'usd', 'gbp'] },
  { path: 'body.data.object.amount_paid', op: 'gt', value: 0 },
  { path: 'body.data.object.amount_paid', op: 'lt', value: 1000000 },
  { path: 'body.data.object.customer', op: 'prefix', value: 'cus_' },
  { path: 'body.data.object.lines.data.0.price.recurring.interval', op: 'eq', value: 'month' },
  { path: 'body.data.object.metadata.tenant', op: 'exists' },
  { path: 'body.data.object.billing_reason', op: 'ne', value: 'manual' },
  { not: { path: 'body.data.object.paid_out_of_band', op: 'eq', value: true } },
];

/** (a): the twenty as four routes of five, fanned out (each route evaluated, each matching). */
const MICRO_SOURCE = {
  routes: ['billing', 'revenue', 'subscriptions', 'audit'].map((name, index) => ({ name, queue: name, when: { all: CONDITIONS.slice(index * 5, index * 5 + 5) } })),
};

/** (b): one route of all twenty, beside a source that feeds one queue. */
const QUEUES = { filtered: 'filtered', plain: 'plain' };
const CONFIG = {
  queues: { plain: { mode: 'pull' }, filtered: { mode: 'pull' } },
  sources: {
    plain: { queue: 'plain' },
    filtered: { routes: [{ name: 'stripe-invoices', queue: 'filtered', when: { all: CONDITIONS } }] },
  },
};

/** The built code of the CLI being measured (SLUICE_BENCH_MAIN may point at another build). */
async function builtModule(path) {
  return import(pathToFileURL(join(dirname(MAIN), '..', path)).href);
}

/** Microseconds per call of `fn`, over at least MICRO_ROUND_MS; `fn` returns a number kept in `sink`. */
function microsPerCall(fn, sink) {
  let calls = 0;
  const started = process.hrtime.bigint();
  let elapsedNs = 0;
  while (elapsedNs < MICRO_ROUND_MS * 1e6) {
    for (let i = 0; i < 1_000; i += 1) sink.value += fn();
    calls += 1_000;
    elapsedNs = Number(process.hrtime.bigint() - started);
  }
  return elapsedNs / 1e3 / calls;
}

/** (a) chooseRoutes vs JSON.parse of the same bytes, alternating rounds after a warm-up of both. */
async function measureMicro(body) {
  const { chooseRoutes } = await builtModule('routing/routes.js');
  const { sourceConfigSchema } = await builtModule('config/schema.js');
  const routing = sourceConfigSchema.parse(MICRO_SOURCE);
  const request = { method: 'POST', path: '/', query: '', headers: Object.entries(HEADERS), body };
  const taken = chooseRoutes(routing, request).routes.length;
  if (taken !== MICRO_SOURCE.routes.length) throw new Error(`the micro source's routes should all match the event, ${taken} of ${MICRO_SOURCE.routes.length} did`);
  const route = () => chooseRoutes(routing, request).routes.length;
  const parse = () => Object.keys(JSON.parse(body.toString('utf8'))).length;
  const sink = { value: 0 };
  for (let i = 0; i < 20_000; i += 1) sink.value += route() + parse();
  const rounds = [];
  for (let index = 0; index < MICRO_ROUNDS; index += 1) {
    const parseUs = microsPerCall(parse, sink);
    const routeUs = microsPerCall(route, sink);
    rounds.push({ parseUs, routeUs });
  }
  const { round, ratio, ratios } = medianRound(rounds, (r) => r.routeUs / r.parseUs);
  return { ...round, ratio, ratios, sink: sink.value };
}

export default {
  id: 'route-conditions',
  title: 'Routing: 20 conditions per request, chooseRoutes and ingest, vs none',
  async run(ctx) {
    const body = Buffer.from(JSON.stringify(EVENT));
    const micro = await measureMicro(body);
    ctx.log(`route-conditions: chooseRoutes ${fmt(micro.routeUs, 2)} µs, JSON.parse ${fmt(micro.parseUs, 2)} µs per request (median of ratios ${fmtRatios(micro.ratios)})`);
    const e2e = await measureSourcePair({
      config: CONFIG,
      routed: 'filtered',
      plain: 'plain',
      queues: QUEUES,
      body: body.toString(),
      headers: HEADERS,
      connections: LOAD.connections,
      slices: SLICES,
      sliceSeconds: SLICE_SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      rounds: ROUNDS,
    });
    const { routed, plain } = e2e.round;
    const complete = everyAcceptedStored(e2e.rounds, QUEUES, LOAD.connections);
    ctx.log(`route-conditions: 20 conditions ${fmt(routed.rps)} req/s p99 ${routed.p99} ms; one queue ${fmt(plain.rps)} req/s p99 ${plain.p99} ms (median of ratios ${fmtRatios(e2e.ratios)})`);
    return {
      rows: [
        { measure: 'chooseRoutes, 4 routes × 5 conditions, µs per request', value: `${fmt(micro.routeUs, 2)} µs`, baseline: `${fmt(micro.parseUs, 2)} µs (JSON.parse of the body)`, ratio: fmt(micro.ratio, 2), target: `≤ ${fmt(MICRO_TARGET, 1)}`, pass: micro.ratio <= MICRO_TARGET },
        { measure: 'accepted requests/s (202), one route of 20 conditions', value: fmt(routed.rps), baseline: `${fmt(plain.rps)} (a source with one queue)`, ratio: fmt(e2e.ratio, 2), target: `≥ ${fmt(E2E_TARGET, 2)}`, pass: e2e.ratio >= E2E_TARGET },
        { measure: 'latency p99 (median slice)', value: `${routed.p99} ms`, baseline: `${plain.p99} ms`, ratio: '', target: '', pass: undefined },
        { measure: 'non-2xx / errors', value: `${routed.non2xx} / ${routed.errors}`, baseline: `${plain.non2xx} / ${plain.errors}`, ratio: '', target: '0 / 0', pass: routed.non2xx + routed.errors + plain.non2xx + plain.errors === 0 },
        { measure: 'the routed queue holds every accepted request', value: complete ? 'yes' : 'no', baseline: '', ratio: '', target: 'yes, every round', pass: complete },
      ],
      notes: [
        `Body: a Stripe \`invoice.paid\` event of ${fmt(body.length)} bytes with Stripe's headers (no signature check configured). The twenty conditions read the method, three headers and sixteen body paths (down to \`body.data.object.lines.data.0.price.recurring.interval\`) with all nine ops and one \`not\`; all hold, so none is skipped.`,
        `chooseRoutes: the built \`dist/routing/routes.js\`, in the benchmark process, on a source parsed by \`sourceConfigSchema\` whose four routes of five conditions all match (fan-out); per call it builds the request's resolver, parses the body once and reads the 20 paths. Baseline: \`JSON.parse\` of the same bytes, the floor of any body condition. ${MICRO_ROUNDS} alternating rounds of ≥ ${MICRO_ROUND_MS} ms each after 20,000 warm-up calls; the round with the median ratio is shown (ratios: ${fmtRatios(micro.ratios)}). Target: evaluating costs at most as much again as parsing.`,
        `Ingest: one Sluice per round with source \`filtered\` (one route, \`all\` of the twenty, to pull queue \`filtered\`) and source \`plain\` (pull queue \`plain\`), same body and headers. autocannon ${LOAD.connections} connections in the benchmark process; per round a ${WARMUP_SECONDS} s warm-up of each source, then ${SLICES} slices of ${SLICE_SECONDS} s of each, alternating (plain, routed, routed, plain, …), summed. ${ROUNDS} rounds; the round with the median ratio is shown (ratios: ${fmtRatios(e2e.ratios)}). Target 0.80: the event loop spends ~80 µs per plain request (PERF.md) and the route adds the parse and reads measured above.`,
      ],
    };
  },
};
