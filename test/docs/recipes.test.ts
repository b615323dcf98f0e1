import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSluice, type RunningSluice, type SluiceConfigInput } from '../../src/server.js';
import { Sink } from '../support/sink.js';
import { eventually } from '../support/sluice.js';
import { runWorker } from '../../docs/recipes/pull-worker.js';

/**
 * The recipes in docs/recipes/ are run, not just read: every `# sluice.yaml` block starts a real
 * node, and each recipe's flow is played through with the configuration it shows.
 */
const RECIPES = join(process.cwd(), 'docs/recipes');
/** Any secret a recipe reads from the environment; also a valid `whsec_` signing secret. */
const SECRET = 'whsec_cmVjaXBlLXRlc3Qtc2VjcmV0';

const nodes: RunningSluice[] = [];
const sinks: Sink[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

/** The ```yaml blocks of a recipe that begin with `# sluice.yaml`, as text. */
function sluiceYamlBlocks(recipe: string): string[] {
  const markdown = readFileSync(join(RECIPES, recipe), 'utf8');
  return [...markdown.matchAll(/```yaml\n(# sluice\.yaml\n[\s\S]*?)```/g)].map((match) => match[1]!);
}

async function start(yaml: string): Promise<RunningSluice> {
  const env = Object.fromEntries([...yaml.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((match) => [match[1]!, SECRET]));
  const config = { ...(parse(yaml) as SluiceConfigInput), log: { level: 'silent' as const } };
  const node = await startSluice({ config, env });
  nodes.push(node);
  return node;
}

describe('docs/recipes', () => {
  it('every sluice.yaml of every recipe starts a node', async () => {
    const blocks = readdirSync(RECIPES)
      .filter((file) => file.endsWith('.md'))
      .flatMap((recipe) => sluiceYamlBlocks(recipe).map((yaml) => ({ recipe, yaml })));
    expect(blocks.map((block) => block.recipe)).toEqual(expect.arrayContaining(['n8n.md', 'stripe.md', 'cron-webhook.md', 'github.md']));
    for (const { yaml } of blocks) await (await start(yaml)).stop();
  });

  it('stripe.md: a signed event is stored once and pulled; an unsigned one is refused', async () => {
    const node = await start(sluiceYamlBlocks('stripe.md')[0]!);
    const event = JSON.stringify({ id: 'evt_recipe_1', type: 'checkout.session.completed', data: { object: { id: 'cs_1' } } });
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', SECRET).update(`${timestamp}.${event}`).digest('hex');
    const headers = { 'content-type': 'application/json', 'stripe-signature': `t=${timestamp},v1=${signature}` };

    const first = await node.client.ingest('stripe', event, { headers });
    expect(first.status).toBe(202);
    expect((await node.client.ingest('stripe', event, { headers })).id).toBe(first.id);
    await expect(node.client.ingest('stripe', event, { headers: { 'content-type': 'application/json' } })).rejects.toMatchObject({ status: 401, code: 'SLUICE_ERR_SIGNATURE' });

    const { messages } = await node.client.pull('stripe-events', { max: 20, waitMs: 2000 });
    expect(messages.map((message) => JSON.parse(message.body ?? '{}').type)).toEqual(['checkout.session.completed']);
    expect(await node.client.ack('stripe-events', messages.map((message) => message.receipt))).toEqual({ acked: 1, stale: [] });
  });

  it('n8n.md: a Shopify webhook reaches n8n with its sub-path and headers, under the domain limit', async () => {
    const n8n = await new Sink(() => ({ status: 200, body: '{"message":"Workflow was started"}' })).start();
    sinks.push(n8n);
    const [push, pull] = sluiceYamlBlocks('n8n.md');
    const node = await start(push!.replaceAll('n8n:5678', n8n.domain));
    expect((await node.client.getDomainLimit(n8n.domain)).effective).toEqual({ concurrency: 3, ratePerSecond: 10, burst: 5 });

    const order = JSON.stringify({ id: 820982911946154500, total_price: '10.00' });
    const hmac = createHmac('sha256', SECRET).update(order).digest('base64');
    const headers = { 'content-type': 'application/json', 'x-shopify-hmac-sha256': hmac, 'x-shopify-webhook-id': 'b54557e4-recipe' };
    const { id } = await node.client.ingest('shop', order, { headers, path: '/refunds' });
    const arrival = await eventually(() => n8n.arrivals[0], 'delivery to n8n');
    expect(arrival.url).toBe('/webhook/shop-orders/refunds');
    expect(arrival.headers).toMatchObject({ 'x-shopify-webhook-id': 'b54557e4-recipe', 'sluice-message-id': id, 'sluice-attempt': '1' });
    expect(arrival.body.toString()).toBe(order);
    await node.stop();

    const pulling = await start(pull!);
    await pulling.client.ingest('shop', order, { headers });
    expect((await pulling.client.pull('shop-orders', { max: 50, waitMs: 2000 })).messages).toHaveLength(1);
  });

  it('stripe-routing.md: invoice events are pushed to billing, the rest wait in the pull queue', async () => {
    const billing = await new Sink().start();
    sinks.push(billing);
    const node = await start(sluiceYamlBlocks('stripe-routing.md')[0]!.replaceAll('billing:8080', billing.domain));
    const send = (id: string, type: string) => {
      const event = JSON.stringify({ id, type, data: { object: { id: 'obj_1' } } });
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = createHmac('sha256', SECRET).update(`${timestamp}.${event}`).digest('hex');
      return node.client.ingest('stripe', event, { headers: { 'content-type': 'application/json', 'stripe-signature': `t=${timestamp},v1=${signature}` } });
    };
    const invoice = await send('evt_r1', 'invoice.paid');
    await send('evt_r2', 'customer.created');
    expect((await send('evt_r1', 'invoice.paid')).id).toBe(invoice.id);
    const arrival = await eventually(() => billing.arrivals[0], 'the invoice delivered to billing');
    expect(JSON.parse(arrival.body.toString()).type).toBe('invoice.paid');
    const { messages } = await node.client.pull('stripe-other', { max: 20, waitMs: 2000 });
    expect(messages.map((message) => JSON.parse(message.body ?? '{}').type)).toEqual(['customer.created']);
    expect(billing.arrivals).toHaveLength(1);
  });

  it('stripe-workflow.md: a paid checkout starts one run whose steps call the shop, then the mailer with the order id; a retry starts nothing', async () => {
    const shop = await new Sink((req) => ({ status: 201, headers: { 'content-type': 'application/json' }, body: req.url === '/orders' ? '{"orderId":"ord_77"}' : '{}' })).start();
    const mailer = await new Sink().start();
    sinks.push(shop, mailer);
    const yaml = sluiceYamlBlocks('stripe-workflow.md')[0]!.replaceAll('shop:8080', shop.domain).replaceAll('mailer:8080', mailer.domain);
    const node = await start(yaml);
    const send = (id: string, type: string, amount: number) => {
      const event = JSON.stringify({ id, type, data: { object: { id: 'cs_9', amount_total: amount, customer_details: { email: 'ann@example.com' } } } });
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = createHmac('sha256', SECRET).update(`${timestamp}.${event}`).digest('hex');
      const answer = node.client.ingest('stripe', event, { headers: { 'content-type': 'application/json', 'stripe-signature': `t=${timestamp},v1=${signature}` } });
      return answer.then((result) => JSON.parse(result.body) as { id: string | null; runs?: string[] });
    };
    const paid = await send('evt_w1', 'checkout.session.completed', 250_000);
    expect(paid.runs).toHaveLength(1);
    expect((await send('evt_w1', 'checkout.session.completed', 250_000)).runs).toEqual(paid.runs);
    expect(await send('evt_w2', 'customer.created', 0)).toEqual({ id: null, ids: [] });
    const receipt = await eventually(() => mailer.arrivals[0], 'the receipt');
    expect(receipt.url).toBe('/receipts/ord_77');
    expect(JSON.parse(receipt.body.toString())).toEqual({ to: 'ann@example.com' });
    expect(JSON.parse(shop.arrivals[0]!.body.toString())).toEqual({ session: 'cs_9', amount: 250_000 });
    const run = await eventually(async () => {
      const read = await node.client.getRun(paid.runs![0]!);
      return read.steps.length === 3 && read;
    }, 'the sales note to wait');
    expect(run.steps.map((step) => [step.name, step.state])).toEqual([
      ['order', 'succeeded'],
      ['receipt', 'succeeded'],
      ['sales-note', 'pending'],
    ]);
    expect(shop.arrivals).toHaveLength(1);
  });

  it('cron-webhook.md: the weekday report runs at 09:00 Berlin time, Monday to Friday', async () => {
    const node = await start(sluiceYamlBlocks('cron-webhook.md')[0]!);
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
    const { nextRuns } = await node.client.getSchedule('weekday-report');
    expect(nextRuns).toHaveLength(5);
    for (const run of nextRuns) expect(berlin.format(new Date(run))).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    expect((await node.client.getSchedule('cache-warmup')).every).toBe('5m');
  });
  it('github.md: a signed delivery is stored once, by its delivery id, and pulled; a forged one is refused', async () => {
    const node = await start(sluiceYamlBlocks('github.md')[0]!);
    const push = JSON.stringify({ ref: 'refs/heads/main', after: 'c0ffee' });
    const signature = `sha256=${createHmac('sha256', SECRET).update(push).digest('hex')}`;
    const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-1', 'x-hub-signature-256': signature };
    const first = await node.client.ingest('github', push, { headers });
    expect((await node.client.ingest('github', push, { headers })).id).toBe(first.id);
    await expect(node.client.ingest('github', push, { headers: { ...headers, 'x-hub-signature-256': 'sha256=00' } })).rejects.toMatchObject({ status: 401 });
    const { messages } = await node.client.pull('github-events', { max: 20, waitMs: 2000 });
    expect(messages.map((message) => message.headers['x-github-event'])).toEqual(['push']);
  });

  it('pull-worker.ts: handles each message once, a failed one comes back, and an abort mid-wait leaves nothing leased', async () => {
    const node = await start('# sluice.yaml\nqueues:\n  jobs: { mode: pull, maxReceives: 5 }\nsources:\n  jobs: { queue: jobs }\n');
    for (const body of ['one', 'two', 'flaky']) await node.client.ingest('jobs', body, { headers: { 'content-type': 'text/plain' } });
    const seen: string[] = [];
    let flakyTries = 0;
    const stop = new AbortController();
    const worker = runWorker(node.client, {
      queue: 'jobs',
      signal: stop.signal,
      retryDelayMs: 0,
      handle: async (message) => {
        if (message.body === 'flaky' && ++flakyTries === 1) throw new Error('first try fails');
        seen.push(message.body ?? '');
      },
    });
    await eventually(() => seen.length === 3, 'three messages handled');
    stop.abort();
    await worker;
    expect(seen.sort()).toEqual(['flaky', 'one', 'two']);
    expect(flakyTries).toBe(2);
    const depth = (await node.client.getQueue('jobs')).depth!;
    expect({ ready: depth.ready, leased: depth.leased, acked: depth.acked }).toEqual({ ready: 0, leased: 0, acked: 3 });
  });
});
