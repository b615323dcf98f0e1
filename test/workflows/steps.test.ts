import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestSluice } from '../support/sluice.js';
import { finished, workflowHarness } from './harness.js';

/**
 * Workflow steps as the API and sluice.yaml define them: refusals, versions, secrets, targets, the
 * kept response, the step limit, and definitions surviving a restart. Real node (SQLite), real sinks.
 */

const { start, sink, stop } = workflowHarness();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function runOf(sluice: TestSluice, workflow: string, body: unknown = {}): Promise<any> {
  const started = await sluice.api('POST', `/v1/workflows/${workflow}/runs`, body);
  expect(started.status).toBe(201);
  return finished(sluice, started.body.id);
}

describe('defining workflows through the API', () => {
  it('refuses bad definitions with a 400 naming the step, and changes nothing', async () => {
    const sluice = await start();
    const bad = await sluice.api('PUT', '/v1/workflows/w', { steps: [{ name: 'a', request: { url: 'https://x.example/{{ steps.b.response.body.id }}' } }, { name: 'b', request: { url: 'https://x.example' } }] });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(bad.body.code).toBe('SLUICE_ERR_VALIDATION');
    expect(bad.body.errors).toEqual([{ field: 'steps.0.request.url', message: 'step b cannot have run before step a' }]);
    const loop = await sluice.api('PUT', '/v1/workflows/w', { steps: [{ name: 'a', request: { url: 'https://x.example' }, onSuccess: 'a' }] });
    expect(loop.status).toBe(400);
    expect(loop.body.detail).toContain('steps.0');
    expect((await sluice.api('PUT', '/v1/workflows/runs', { steps: [{ name: 'a', request: { url: 'https://x.example' } }] })).status).toBe(400);
    expect((await sluice.api('PUT', '/v1/workflows/w', { steps: [{ name: 'a', request: { url: 'https://x.example' } }], queue: 'nope' })).body.errors).toEqual([{ field: 'queue', message: 'no queue named nope' }]);
    expect((await sluice.api('PUT', '/v1/workflows/w', { steps: [{ name: 'a', request: { url: 'https://x.example' }, extra: 1 }] })).status).toBe(400);
    expect((await sluice.api('PUT', '/v1/workflows/w', '{"steps": [')).status).toBe(400);
    expect((await sluice.api('GET', '/v1/workflows')).body.workflows).toEqual([]);
    expect((await sluice.api('GET', '/v1/workflows/w')).status).toBe(404);
    expect((await sluice.api('POST', '/v1/workflows/w/runs', {})).body.code).toBe('SLUICE_ERR_WORKFLOW_NOT_FOUND');
    expect((await sluice.api('GET', '/v1/workflows/runs/abc')).body.code).toBe('SLUICE_ERR_RUN_NOT_FOUND');
    expect((await sluice.api('GET', '/v1/workflows/runs/99999999999999999999')).status).toBe(404);
  });

  it('leaves a running run on the version it started with when the workflow is redefined', async () => {
    const api = await sink();
    const sluice = await start();
    const v1 = { steps: [{ name: 'wait', delayMs: 300, request: { url: `${api.origin}/v1` } }] };
    expect((await sluice.api('PUT', '/v1/workflows/w', v1)).status).toBe(201);
    const { id } = (await sluice.api('POST', '/v1/workflows/w/runs', {})).body;
    const replaced = await sluice.api('PUT', '/v1/workflows/w', { steps: [{ name: 'wait', request: { url: `${api.origin}/v2` } }] });
    expect(replaced.status).toBe(200);
    expect((await finished(sluice, id)).state).toBe('succeeded');
    expect(api.arrivals.map((arrival) => arrival.url)).toEqual(['/v1']);
    await runOf(sluice, 'w');
    expect(api.arrivals.map((arrival) => arrival.url)).toEqual(['/v1', '/v2']);
  });

  it('fills secrets when a step is sent, keeps them out of the run, and scrubs them from kept responses', async () => {
    const token = 'tok_wf_Zq81mK2pX7';
    const api = await sink((req, body) => ({ status: 200, body: `echo ${req.headers.authorization} ${body.toString()}` }));
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/secrets/api_token', { value: token })).status).toBe(204);
    const steps = [{ name: 'call', request: { url: `${api.origin}/c?t={{ secrets.api_token }}`, headers: { authorization: 'Bearer {{ secrets.api_token }}' }, body: { token: '{{ secrets.api_token }}' } } }];
    expect((await sluice.api('PUT', '/v1/workflows/s', { steps })).status).toBe(201);
    const run = await runOf(sluice, 's');
    expect(run.state).toBe('succeeded');
    expect(api.arrivals[0]!.headers.authorization).toBe(`Bearer ${token}`);
    expect(api.arrivals[0]!.url).toBe(`/c?t=${token}`);
    expect(JSON.stringify(run)).not.toContain(token);
    expect(run.steps[0].response.body).toContain('echo Bearer');
    const message = (await sluice.api('GET', `/v1/messages/${run.steps[0].messageId}`)).body;
    expect(JSON.stringify(message)).not.toContain(token);
  });

  it('fails a step whose target is forbidden, before anything is sent, and takes its onFailure branch', async () => {
    const api = await sink();
    const sluice = await start({});
    const steps = [
      { name: 'meta', request: { url: 'http://169.254.169.254/latest/meta-data' }, onFailure: 'report' },
      { name: 'unused', request: { url: 'http://169.254.169.254/x' } },
      { name: 'report', request: { url: 'http://{{ vars.host }}/report' } },
    ];
    expect((await sluice.api('PUT', '/v1/workflows/ssrf', { steps })).status).toBe(201);
    const run = await runOf(sluice, 'ssrf', { vars: { host: '10.0.0.1' } });
    expect(run.state).toBe('failed');
    expect(run.steps.map((step: any) => [step.name, step.state])).toEqual([
      ['meta', 'failed'],
      ['report', 'failed'],
    ]);
    expect(run.steps[0].error).toMatch(/request\.url/);
    expect(run.steps[0].messageId).toBeUndefined();
    expect(api.arrivals).toHaveLength(0);
  });

  it('keeps the first 64 KiB of a step response, and later steps read from it', async () => {
    const big = JSON.stringify({ id: 'abc', pad: 'x'.repeat(100_000) });
    const api = await sink((req) => (req.url === '/big' ? { status: 200, body: big } : { status: 200 }));
    const sluice = await start();
    const steps = [
      { name: 'big', request: { url: `${api.origin}/big` } },
      { name: 'next', request: { url: `${api.origin}/next`, body: { status: '{{ steps.big.response.status }}', body: '{{ steps.big.response.body }}' } } },
    ];
    expect((await sluice.api('PUT', '/v1/workflows/big', { steps })).status).toBe(201);
    const run = await runOf(sluice, 'big');
    expect(run.state).toBe('succeeded');
    expect(Buffer.byteLength(run.steps[0].response.body)).toBe(64 * 1024);
    expect(run.steps[0].response.body).toBe(big.slice(0, 64 * 1024));
    const attempts = (await sluice.api('GET', `/v1/messages/${run.steps[0].messageId}`)).body.attempts;
    expect(Buffer.byteLength(attempts[0].response)).toBeLessThanOrEqual(1024);
    // Cut at 64 KiB, the body is no longer JSON: the next step gets it as text.
    const sent = JSON.parse(api.arrivals[1]!.body.toString());
    expect(sent.status).toBe(200);
    expect(sent.body).toBe(big.slice(0, 64 * 1024));
  });

  it("sends every step through the workflow's queue, at its priority, under its tenant", async () => {
    const api = await sink();
    const sluice = await start({ network: { allowPrivate: true }, queues: { crm: { mode: 'push', url: `${api.origin}/default` } } });
    const steps = [{ name: 'one', request: { url: `${api.origin}/one` } }, { name: 'two', request: {} }];
    expect((await sluice.api('PUT', '/v1/workflows/urgent', { steps, queue: 'crm', priority: 8 })).status).toBe(201);
    const run = await runOf(sluice, 'urgent');
    expect(run.state).toBe('succeeded');
    for (const step of run.steps) {
      const message = (await sluice.api('GET', `/v1/messages/${step.messageId}`)).body;
      expect(message).toMatchObject({ queue: 'crm', tenant: 'default', priority: 8, origin: `workflow:${run.id}:${step.seq}` });
    }
    expect(api.arrivals.map((arrival) => arrival.url)).toEqual(['/one', '/default']);
    expect((await sluice.api('PUT', '/v1/workflows/pulled', { steps, queue: 'nope' })).status).toBe(400);
  });

  it('refuses to delete a workflow while a source or a schedule starts it', async () => {
    const api = await sink();
    const sluice = await start();
    expect((await sluice.api('PUT', '/v1/workflows/used', { steps: [{ name: 'a', request: { url: `${api.origin}/a` } }] })).status).toBe(201);
    expect((await sluice.api('PUT', '/v1/sources/hooks', { routes: [{ name: 'all', workflow: 'used' }] })).status).toBe(201);
    expect((await sluice.api('POST', '/v1/schedules', { name: 'nightly', every: '1h', workflow: { name: 'used' } })).status).toBe(201);
    const refused = await sluice.api('DELETE', '/v1/workflows/used');
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('source hooks');
    expect(refused.body.detail).toContain('schedule nightly');
    expect((await sluice.api('DELETE', '/v1/sources/hooks')).status).toBe(204);
    expect((await sluice.api('DELETE', '/v1/schedules/nightly')).status).toBe(204);
    expect((await sluice.api('DELETE', '/v1/workflows/used')).status).toBe(204);
  });

  it('ends a run that loops past 100 steps as failed', async () => {
    const api = await sink();
    const sluice = await start();
    const steps = [{ name: 'poll', delayMs: 1, request: { url: `${api.origin}/poll` }, onSuccess: 'poll' }];
    expect((await sluice.api('PUT', '/v1/workflows/forever', { steps })).status).toBe(201);
    const run = await runOf(sluice, 'forever');
    expect(run.state).toBe('failed');
    expect(run.error).toContain('100 steps');
    expect(run.steps).toHaveLength(100);
    expect(api.arrivals).toHaveLength(100);
  }, 120_000);
});

describe('workflows of sluice.yaml, and stored ones across a restart', () => {
  it('runs a file workflow, refuses changing it through the API, and keeps API workflows (with retry) across a restart', async () => {
    const api = await sink();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-wf-'));
    dirs.push(dir);
    const config = {
      network: { allowPrivate: true },
      workflows: { fromfile: { steps: [{ name: 'a', request: { url: `${api.origin}/file`, body: { n: '{{ vars.n }}' } } }] } },
    };
    const first = await start(config, dir);
    const listed = (await first.api('GET', '/v1/workflows')).body.workflows;
    expect(listed).toMatchObject([{ name: 'fromfile', tenant: 'default', fromFile: true }]);
    expect((await first.api('PUT', '/v1/workflows/fromfile', { steps: [{ name: 'a', request: { url: `${api.origin}/x` } }] })).body.code).toBe('SLUICE_ERR_WORKFLOW_IN_FILE');
    expect((await first.api('DELETE', '/v1/workflows/fromfile')).status).toBe(409);
    expect((await runOf(first, 'fromfile', { vars: { n: 7 } })).state).toBe('succeeded');
    expect(JSON.parse(api.arrivals[0]!.body.toString())).toEqual({ n: 7 });
    const stored = { steps: [{ name: 'a', request: { url: `${api.origin}/stored` }, retry: { maxAttempts: 2, backoff: { initialMs: 50 } } }] };
    expect((await first.api('PUT', '/v1/workflows/api', stored)).status).toBe(201);
    const before = (await first.api('GET', '/v1/workflows/api')).body;
    await stop(first);

    const second = await start(config, dir);
    expect((await second.api('GET', '/v1/workflows/api')).body).toEqual(before);
    expect((await runOf(second, 'api')).state).toBe('succeeded');
    expect(api.arrivals.map((arrival) => arrival.url)).toEqual(['/file', '/stored']);
  });
});
