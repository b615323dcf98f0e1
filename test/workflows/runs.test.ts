import { describe, expect, it } from 'vitest';
import { finished, workflowHarness } from './harness.js';

/**
 * Workflow runs end to end on a real node (SQLite) against real HTTP sinks on 127.0.0.1: data flowing
 * from one step's response into the next, conditions, both branches, a step's retries, cancel, and
 * tenant isolation.
 */

const { start, sink } = workflowHarness();

describe('workflow runs', () => {
  it('feeds one step’s response into the next, and skips a step whose when is false', async () => {
    const api = await sink((req, body) => {
      if (req.url === '/users') return { status: 201, headers: { 'content-type': 'application/json', 'x-request': 'r-1' }, body: JSON.stringify({ id: 'u_42', plan: 'pro', tags: ['a', 'b'] }) };
      return { status: 200, body: `got ${body.toString()}` };
    });
    const sluice = await start();
    const put = await sluice.api('PUT', '/v1/workflows/onboard', {
      steps: [
        { name: 'create', request: { url: `${api.origin}/users`, body: { email: '{{ vars.email }}' } } },
        {
          name: 'welcome',
          request: {
            url: `${api.origin}/mail/{{ steps.create.response.body.id }}`,
            headers: { 'x-trace': '{{ steps.create.response.headers.x-request }}' },
            body: { user: '{{ steps.create.response.body.id }}', status: '{{ steps.create.response.status }}', tag: '{{ steps.create.response.body.tags.1 }}' },
          },
        },
        { name: 'upsell', when: { path: 'steps.create.response.body.plan', op: 'eq', value: 'free' }, request: { url: `${api.origin}/upsell` } },
        { name: 'done', request: { url: `${api.origin}/done`, body: 'for {{ vars.email }}' } },
      ],
    });
    expect(put.status).toBe(201);
    const started = await sluice.api('POST', '/v1/workflows/onboard/runs', { vars: { email: 'a@example.com' } });
    expect(started.status).toBe(201);
    expect(started.body).toEqual({ id: expect.any(String), state: 'running' });
    const run = await finished(sluice, started.body.id);
    expect(run.state).toBe('succeeded');
    expect(run.steps.map((step: any) => [step.name, step.state])).toEqual([
      ['create', 'succeeded'],
      ['welcome', 'succeeded'],
      ['upsell', 'skipped'],
      ['done', 'succeeded'],
    ]);
    expect(run.steps[0].response).toMatchObject({ status: 201, headers: { 'x-request': 'r-1' } });
    expect(JSON.parse(run.steps[0].response.body)).toEqual({ id: 'u_42', plan: 'pro', tags: ['a', 'b'] });
    const welcome = api.arrivals.find((arrival) => arrival.url.startsWith('/mail/'))!;
    expect(welcome.url).toBe('/mail/u_42');
    expect(welcome.headers['x-trace']).toBe('r-1');
    expect(JSON.parse(welcome.body.toString())).toEqual({ user: 'u_42', status: 201, tag: 'b' });
    expect(api.arrivals.map((arrival) => arrival.url)).toEqual(['/users', '/mail/u_42', '/done']);
    expect(api.arrivals[2]!.body.toString()).toBe('for a@example.com');
  });

  it('takes the onFailure branch when a step dies, and fails the run when no branch handles it', async () => {
    const api = await sink((req) => ({ status: req.url === '/charge' ? 402 : 200, body: req.url === '/charge' ? '{"error":"card_declined"}' : 'ok' }));
    const sluice = await start();
    const steps = [
      { name: 'charge', request: { url: `${api.origin}/charge` }, retry: { maxAttempts: 1 }, onFailure: 'refund' },
      { name: 'receipt', request: { url: `${api.origin}/receipt` }, onSuccess: 'end' },
      { name: 'refund', request: { url: `${api.origin}/refund?why={{ steps.charge.response.body.error }}` } },
    ];
    expect((await sluice.api('PUT', '/v1/workflows/pay', { steps })).status).toBe(201);
    const handled = await finished(sluice, (await sluice.api('POST', '/v1/workflows/pay/runs', {})).body.id);
    expect(handled.state).toBe('succeeded');
    expect(handled.steps.map((step: any) => [step.name, step.state])).toEqual([
      ['charge', 'failed'],
      ['refund', 'succeeded'],
    ]);
    expect(handled.steps[0].response.status).toBe(402);
    expect(api.arrivals.map((arrival) => arrival.url)).toEqual(['/charge', '/refund?why=card_declined']);

    const unhandled = [{ ...steps[0], onFailure: undefined }, steps[1]];
    expect((await sluice.api('PUT', '/v1/workflows/pay2', { steps: unhandled })).status).toBe(201);
    const failed = await finished(sluice, (await sluice.api('POST', '/v1/workflows/pay2/runs', {})).body.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('charge');
    expect(failed.steps.map((step: any) => step.name)).toEqual(['charge']);
  });

  it('retries a step under its own retry policy before moving on', async () => {
    let calls = 0;
    const api = await sink((req) => {
      if (req.url !== '/flaky') return { status: 200 };
      calls += 1;
      return { status: calls < 3 ? 503 : 200, body: `try ${calls}` };
    });
    const sluice = await start();
    const steps = [
      { name: 'flaky', request: { url: `${api.origin}/flaky` }, retry: { maxAttempts: 5, backoff: { initialMs: 10, maxMs: 20 } } },
      { name: 'next', request: { url: `${api.origin}/next`, body: '{{ steps.flaky.response.body }}' } },
    ];
    expect((await sluice.api('PUT', '/v1/workflows/retrying', { steps })).status).toBe(201);
    const run = await finished(sluice, (await sluice.api('POST', '/v1/workflows/retrying/runs', {})).body.id);
    expect(run.state).toBe('succeeded');
    expect(run.steps[0]).toMatchObject({ name: 'flaky', state: 'succeeded', attempts: 3 });
    expect(api.arrivals.at(-1)!.body.toString()).toBe('try 3');
  });

  it('cancels a run whose step waits: the step is never sent', async () => {
    const api = await sink();
    const sluice = await start();
    const steps = [{ name: 'later', delayMs: 3_600_000, request: { url: `${api.origin}/later` } }];
    expect((await sluice.api('PUT', '/v1/workflows/slow', { steps })).status).toBe(201);
    const { id } = (await sluice.api('POST', '/v1/workflows/slow/runs', {})).body;
    const before = (await sluice.api('GET', `/v1/workflows/runs/${id}`)).body;
    expect(before.steps).toMatchObject([{ name: 'later', state: 'pending', messageId: expect.any(String) }]);
    expect((await sluice.api('GET', `/v1/messages/${before.steps[0].messageId}`)).body.state).toBe('scheduled');
    const cancelled = await sluice.api('DELETE', `/v1/workflows/runs/${id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ id, state: 'cancelled' });
    const after = (await sluice.api('GET', `/v1/workflows/runs/${id}`)).body;
    expect(after.state).toBe('cancelled');
    expect(after.steps[0].state).toBe('cancelled');
    expect((await sluice.api('GET', `/v1/messages/${before.steps[0].messageId}`)).body.state).toBe('cancelled');
    expect((await sluice.api('DELETE', `/v1/workflows/runs/${id}`)).status).toBe(409);
    expect(api.arrivals).toHaveLength(0);
  });

  it('keeps each tenant to its own workflows and runs', async () => {
    const api = await sink();
    const sluice = await start();
    const keyOf = async (name: string) => {
      expect((await sluice.api('POST', '/v1/tenants', { name })).status).toBe(201);
      return (await sluice.api('POST', `/v1/tenants/${name}/keys`)).body.key as string;
    };
    const acme = await keyOf('acme');
    const globex = await keyOf('globex');
    const steps = [{ name: 'ping', request: { url: `${api.origin}/ping` } }];
    expect((await sluice.api('PUT', '/v1/workflows/flow', { steps }, acme)).status).toBe(201);
    expect((await sluice.api('POST', '/v1/workflows/flow/runs', {}, globex)).status).toBe(404);
    const { id } = (await sluice.api('POST', '/v1/workflows/flow/runs', {}, acme)).body;
    await finished(sluice, id, acme);
    expect((await sluice.api('GET', `/v1/workflows/runs/${id}`, undefined, globex)).status).toBe(404);
    expect((await sluice.api('DELETE', `/v1/workflows/runs/${id}`, undefined, globex)).status).toBe(404);
    expect((await sluice.api('GET', '/v1/workflows', undefined, globex)).body.workflows).toEqual([]);
    expect((await sluice.api('GET', '/v1/workflows/flow/runs', undefined, globex)).body.runs).toEqual([]);
    expect((await sluice.api('GET', '/v1/workflows/flow/runs', undefined, acme)).body.runs).toMatchObject([{ id, state: 'succeeded', tenant: 'acme' }]);
  });

  it('lists runs by state with a cursor, and answers the first run for a repeated idempotency key', async () => {
    const api = await sink();
    const sluice = await start();
    const steps = [{ name: 'later', delayMs: 3_600_000, request: { url: `${api.origin}/x` } }];
    expect((await sluice.api('PUT', '/v1/workflows/w', { steps })).status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await sluice.api('POST', '/v1/workflows/w/runs', { vars: { i } })).body.id);
    await sluice.api('DELETE', `/v1/workflows/runs/${ids[1]}`);
    const again = await sluice.api('POST', '/v1/workflows/w/runs', { idempotencyKey: 'k1' });
    const repeat = await sluice.api('POST', '/v1/workflows/w/runs', { idempotencyKey: 'k1' });
    expect(again.status).toBe(201);
    expect(repeat.status).toBe(200);
    expect(repeat.body.id).toBe(again.body.id);
    const first = (await sluice.api('GET', '/v1/workflows/w/runs?state=running&limit=2')).body;
    expect(first.runs.map((run: any) => run.id)).toEqual([again.body.id, ids[4]]);
    const second = (await sluice.api('GET', `/v1/workflows/w/runs?state=running&limit=2&cursor=${first.nextCursor}`)).body;
    expect(second.runs.map((run: any) => run.id)).toEqual([ids[3], ids[2]]);
    const third = (await sluice.api('GET', `/v1/workflows/w/runs?state=running&limit=2&cursor=${second.nextCursor}`)).body;
    expect(third.runs.map((run: any) => run.id)).toEqual([ids[0]]);
    expect(third.nextCursor).toBeUndefined();
    expect((await sluice.api('GET', '/v1/workflows/w/runs?state=cancelled')).body.runs.map((run: any) => run.id)).toEqual([ids[1]]);
  });
});
