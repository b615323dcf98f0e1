import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TestSluice } from '../support/sluice.js';
import { finished, workflowHarness } from './harness.js';

/**
 * Sources that start workflow runs, end to end on a real node (SQLite) against real HTTP sinks: a
 * provider's signed JSON webhook into a source with `workflow`, a route fan-out to a queue and a
 * workflow, a body that is not JSON, and the refusals of workflows a source's tenant does not have.
 */

const harness = workflowHarness();
const start = (config: Record<string, unknown> = {}) => harness.start({ network: { allowPrivate: true }, ...config });
const sink = () => harness.sink(() => ({ status: 200, body: 'ok' }));

async function post(sluice: TestSluice, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${sluice.url}${path}`, { method: 'POST', body, headers });
  return { status: response.status, body: await response.json() };
}


/** A workflow whose steps read the ingested request's body, headers and query. */
function onboarding(api: Sink): Record<string, unknown> {
  return {
    steps: [
      {
        name: 'account',
        request: {
          url: `${api.origin}/accounts/{{ vars.request.body.repository.name }}?ref={{ vars.request.query.ref }}`,
          headers: { 'x-event': '{{ vars.request.headers.x-github-event }}' },
          body: { sender: '{{ vars.request.body.sender.id }}', tags: '{{ vars.request.query.tag }}', path: '{{ vars.request.path }}' },
        },
      },
      { name: 'notify', when: { path: 'vars.request.body.action', op: 'eq', value: 'opened' }, request: { url: `${api.origin}/notify`, body: 'opened by {{ vars.request.body.sender.login }}' } },
    ],
  };
}

const SECRET = 'gh-secret';
function signed(body: string, delivery: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-github-event': 'pull_request',
    'x-github-delivery': delivery,
    'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
  };
}

describe('a source with a workflow', () => {
  it("starts a run per verified request whose steps read the request's body, headers and query; a repeated delivery finds the first run", async () => {
    const api = await sink();
    const sluice = await start({
      workflows: { onboarding: onboarding(api) },
      sources: { github: { workflow: 'onboarding', verify: { type: 'github', secret: SECRET }, dedupe: 'github' } },
    });
    const event = JSON.stringify({ action: 'opened', repository: { name: 'sluice' }, sender: { id: 42, login: 'octo' } });
    const refused = await post(sluice, '/in/github/hooks?ref=main', event, { ...signed(event, 'd-1'), 'x-hub-signature-256': 'sha256=00' });
    expect(refused.status).toBe(401);
    expect((await sluice.api('GET', '/v1/workflows/onboarding/runs')).body.runs).toEqual([]);

    const answered = await post(sluice, '/in/github/hooks?ref=main&tag=a&tag=b', event, signed(event, 'd-1'));
    expect(answered.status).toBe(202);
    expect(answered.body).toEqual({ id: null, ids: [], runs: [expect.stringMatching(/^[1-9][0-9]*$/)] });
    const run = await finished(sluice, answered.body.runs[0]);
    expect(run.state).toBe('succeeded');
    expect(run.steps.map((step: any) => [step.name, step.state])).toEqual([
      ['account', 'succeeded'],
      ['notify', 'succeeded'],
    ]);
    expect(run.vars.request).toMatchObject({ method: 'POST', path: '/hooks', query: { ref: 'main', tag: ['a', 'b'] }, body: JSON.parse(event) });
    expect(run.vars.request.headers['x-github-delivery']).toBe('d-1');
    const [account, notify] = api.arrivals;
    expect(account!.url).toBe('/accounts/sluice?ref=main');
    expect(account!.headers['x-event']).toBe('pull_request');
    expect(JSON.parse(account!.body.toString())).toEqual({ sender: 42, tags: ['a', 'b'], path: '/hooks' });
    expect(notify!.url).toBe('/notify');
    expect(notify!.body.toString()).toBe('opened by octo');

    // GitHub retries with the same delivery id: the same run answers, and nothing new starts.
    const again = await post(sluice, '/in/github/hooks?ref=main&tag=a&tag=b', event, signed(event, 'd-1'));
    expect(again).toEqual({ status: 202, body: answered.body });
    expect((await sluice.api('GET', '/v1/workflows/onboarding/runs')).body.runs.map((listed: any) => listed.id)).toEqual(answered.body.runs);
    const other = await post(sluice, '/in/github?ref=dev&tag=c', event, signed(event, 'd-2'));
    expect(other.body.runs[0]).not.toBe(answered.body.runs[0]);
    expect((await finished(sluice, other.body.runs[0])).state).toBe('succeeded');
  });

  it('hands a body that is not JSON to the run as text, a vault token it was verified with hidden, and a secret placeholder it sent as text', async () => {
    const api = await sink();
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/secrets/hook', { value: 'tok-123' })).status).toBe(204);
    const steps = [{ name: 'forward', request: { url: `${api.origin}/forward`, body: { text: '{{ vars.request.body }}', type: '{{ vars.request.headers.content-type }}', note: '{{ vars.request.query.note }}' } } }];
    expect((await sluice.api('PUT', '/v1/workflows/forms', { steps })).status).toBe(201);
    const put = await sluice.api('PUT', '/v1/sources/forms', { workflow: 'forms', verify: { type: 'token', secret: '{{ secrets.hook }}', header: 'x-token' } });
    expect(put.status).toBe(201);
    expect(put.body.config.workflow).toBe('forms');
    const note = encodeURIComponent('{{ secrets.hook }}'); // a sender's try at pulling a secret out: it stays text
    const answered = await post(sluice, `/in/forms?note=${note}`, 'name=a&b=<c>', { 'content-type': 'application/x-www-form-urlencoded', 'x-token': 'tok-123' });
    expect(answered.status).toBe(202);
    const run = await finished(sluice, answered.body.runs[0]);
    expect(run.state).toBe('succeeded');
    expect(run.vars.request.body).toBe('name=a&b=<c>');
    expect(run.vars.request.headers['x-token']).toBe('[vault secret]');
    expect(JSON.parse(api.arrivals[0]!.body.toString())).toEqual({ text: 'name=a&b=<c>', type: 'application/x-www-form-urlencoded', note: '{{ secrets.hook }}' });
  });
});

describe('a source with a workflow and a configured response', () => {
  it('puts the run id where its body says {run}', async () => {
    const api = await sink();
    const sluice = await start({
      workflows: { w: { steps: [{ name: 'a', request: { url: `${api.origin}/a` } }] } },
      sources: { s: { workflow: 'w', response: { status: 200, headers: { 'content-type': 'text/plain' }, body: 'run {run}' } } },
    });
    const response = await fetch(`${sluice.url}/in/s`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(200);
    const id = /^run ([1-9][0-9]*)$/.exec(await response.text())![1]!;
    expect((await finished(sluice, id)).state).toBe('succeeded');
  });
});

describe('routes to a queue and a workflow', () => {
  it('stores the message and starts the run for one request, and the dry run shows the workflow with its vars', async () => {
    const api = await sink();
    const sluice = await start({
      queues: { audit: { mode: 'pull' } },
      workflows: { invoice: { steps: [{ name: 'bill', request: { url: `${api.origin}/bill/{{ vars.request.body.data.id }}` } }] } },
      sources: {
        stripe: {
          routes: [
            { name: 'all', queue: 'audit' },
            { name: 'paid', workflow: 'invoice', when: { path: 'body.type', op: 'eq', value: 'invoice.paid' } },
          ],
        },
      },
    });
    const paid = JSON.stringify({ type: 'invoice.paid', data: { id: 'in_1' } });
    const answered = await post(sluice, '/in/stripe', paid, { 'content-type': 'application/json' });
    expect(answered.status).toBe(202);
    expect(answered.body).toEqual({ id: expect.any(String), ids: [answered.body.id], runs: [expect.any(String)] });
    const pulled = await sluice.api('POST', '/v1/queues/audit/pull', { max: 10 });
    expect(pulled.body.messages.map((message: any) => [message.id, message.body])).toEqual([[answered.body.id, paid]]);
    expect((await finished(sluice, answered.body.runs[0])).state).toBe('succeeded');
    expect(api.arrivals.map((arrival) => arrival.url)).toEqual(['/bill/in_1']);

    // Routed to the queue alone: the answer is as it always was, and no run starts.
    const other = await post(sluice, '/in/stripe', JSON.stringify({ type: 'charge.failed' }));
    expect(other.body).toEqual({ id: expect.any(String), ids: [other.body.id] });
    expect((await sluice.api('GET', '/v1/workflows/invoice/runs')).body.runs).toHaveLength(1);
    expect((await sluice.api('GET', '/v1/sources/stripe')).body.counts.routes).toEqual({ all: 2, paid: 1 });

    const dry = await sluice.api('POST', '/v1/sources/stripe/test', { body: { type: 'invoice.paid', data: { id: 'in_2' } }, query: 'x=1' });
    expect(dry.status).toBe(200);
    expect(dry.body.targets).toEqual([
      { route: 'all', queue: 'audit' },
      { route: 'paid', workflow: 'invoice' },
    ]);
    expect(dry.body.vars.request).toMatchObject({ method: 'POST', path: '/', query: { x: '1' }, body: { type: 'invoice.paid', data: { id: 'in_2' } } });
    expect((await sluice.api('GET', '/v1/workflows/invoice/runs')).body.runs).toHaveLength(1);
  });
});

describe('a workflow the source cannot start', () => {
  it('is refused by PUT /v1/sources with a 400 naming the field: unknown, or of another tenant', async () => {
    const api = await sink();
    const sluice = await start({ workflows: { mine: { steps: [{ name: 'a', request: { url: `${api.origin}/a` } }] } } });
    expect((await sluice.api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
    const cases: [string, unknown, string, string?][] = [
      ['an unknown workflow', { workflow: 'nope' }, 'workflow'],
      ['an unknown workflow in a route', { routes: [{ workflow: 'nope' }] }, 'routes.0.workflow'],
      ["the default tenant's workflow, for acme", { workflow: 'mine' }, 'workflow', 'acme'],
      ['queue and workflow both', { queue: 'outbound', workflow: 'mine' }, 'workflow'],
      ['first without routes', { workflow: 'mine', first: true }, 'first'],
    ];
    for (const [what, body, field, tenant] of cases) {
      const refused = await sluice.api('PUT', `/v1/sources/bad${tenant ? `?tenant=${tenant}` : ''}`, body);
      expect(refused.status, what).toBe(400);
      expect(refused.body.code, what).toBe('SLUICE_ERR_VALIDATION');
      expect(refused.body.errors.map((error: { field: string }) => error.field), what).toContain(field);
    }
    expect(await sluice.app.store.listSources()).toEqual([]);
    expect((await sluice.api('PUT', '/v1/sources/good', { workflow: 'mine' })).status).toBe(201);
  });

  it('stops a start from sluice.yaml, naming sources.<s>.workflow', async () => {
    await expect(start({ sources: { hooks: { workflow: 'nope' } } })).rejects.toThrow(/sources\.hooks\.workflow: no workflow named nope/);
    await expect(start({ queues: { audit: { mode: 'pull' } }, sources: { hooks: { routes: [{ queue: 'audit' }, { workflow: 'nope' }] } } })).rejects.toThrow(/sources\.hooks\.routes\.1\.workflow: no workflow named nope/);
  });

  it('answers 404 and stores nothing when the workflow was deleted after the source was saved', async () => {
    const api = await sink();
    const sluice = await start({ queues: { audit: { mode: 'pull' } } });
    expect((await sluice.api('PUT', '/v1/workflows/gone', { steps: [{ name: 'a', request: { url: `${api.origin}/a` } }] })).status).toBe(201);
    expect((await sluice.api('PUT', '/v1/sources/hooks', { routes: [{ queue: 'audit' }, { workflow: 'gone' }] })).status).toBe(201);
    // The API refuses to delete it under the source (409); another node deleting it in the same moment
    // as this source was saved is the way it goes: the catalog loses it as a reload from the store would.
    expect((await sluice.api('DELETE', '/v1/workflows/gone')).status).toBe(409);
    await sluice.app.workflows.catalog.remove('default', 'gone');
    const refused = await post(sluice, '/in/hooks', '{}');
    expect(refused.status).toBe(404);
    expect(refused.body.code).toBe('SLUICE_ERR_WORKFLOW_NOT_FOUND');
    expect((await sluice.api('POST', '/v1/queues/audit/pull', { max: 10 })).body.messages).toEqual([]);
  });
});
