import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceClient } from '../../src/client/client.js';
import { SluiceApiError } from '../../src/client/errors.js';
import type { Run, WorkflowInput } from '../../src/client/types.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * The client's workflow methods against a real node (SQLite) and a real sink on 127.0.0.1: define,
 * start, read a finished run with its steps and responses, list with a cursor, cancel, and the
 * errors as SluiceApiError. One node serves the file, so every test names its own workflows.
 */
let sluice: TestSluice;
let client: SluiceClient;
let sink: Sink;

beforeAll(async () => {
  sink = await new Sink((req, body) => {
    if (req.url === '/users') return { status: 201, headers: { 'content-type': 'application/json', 'x-request': 'r-7' }, body: JSON.stringify({ id: 'u_7' }) };
    return { status: 200, body: `got ${body.toString()}` };
  }).start();
  sluice = await startSluice({
    network: { allowPrivate: true },
    workflows: { 'from-file': { steps: [{ name: 'ping', request: { url: `${sink.origin}/ping` } }] } },
  });
  client = sluice.client;
});
afterAll(async () => {
  await sluice?.stop();
  await sink?.stop();
});

/** The error a call rejects with; fails the test when it resolves. */
async function apiError(call: Promise<unknown>): Promise<SluiceApiError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SluiceApiError);
  return error as SluiceApiError;
}

/** The run once it has ended. */
function finished(id: string, reader: SluiceClient = client): Promise<Run> {
  return eventually(async () => {
    const run = await reader.getRun(id);
    return run.state === 'running' ? undefined : run;
  }, `run ${id} to end`);
}

/** One step that waits an hour: its runs stay running until cancelled. */
function waiting(): WorkflowInput {
  return { steps: [{ name: 'later', delayMs: 3_600_000, request: { url: `${sink.origin}/later` } }] };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('SluiceClient workflows', () => {
  it('puts, gets, lists and deletes a workflow; the file’s is shown, and changed only in the file', async () => {
    const workflow: WorkflowInput = { steps: [{ name: 'ping', request: { url: `${sink.origin}/ping`, body: { n: '{{ vars.n }}' } } }], priority: 7 };
    const created = await client.putWorkflow('crud', workflow);
    expect(created).toEqual({
      name: 'crud',
      tenant: 'default',
      fromFile: false,
      config: { steps: [{ name: 'ping', request: { url: `${sink.origin}/ping`, method: 'POST', headers: {}, body: { n: '{{ vars.n }}' } } }], priority: 7 },
      createdAt: expect.stringMatching(ISO),
      updatedAt: expect.stringMatching(ISO),
    });
    const replaced = await client.putWorkflow('crud', { ...workflow, priority: 2 });
    expect(replaced.config.priority).toBe(2);
    expect(await client.getWorkflow('crud')).toEqual(replaced);
    const names = (await client.listWorkflows()).workflows.map((listed) => [listed.name, listed.fromFile]);
    expect(names).toEqual(expect.arrayContaining([['crud', false], ['from-file', true]]));

    expect((await apiError(client.putWorkflow('from-file', workflow))).code).toBe('SLUICE_ERR_WORKFLOW_IN_FILE');
    expect((await apiError(client.deleteWorkflow('from-file'))).status).toBe(409);
    await client.deleteWorkflow('crud');
    const gone = await apiError(client.getWorkflow('crud'));
    expect([gone.status, gone.code]).toEqual([404, 'SLUICE_ERR_WORKFLOW_NOT_FOUND']);
  });

  it('refuses a workflow whose branch names no step, naming the field', async () => {
    const error = await apiError(client.putWorkflow('bad', { steps: [{ name: 'a', onSuccess: 'nowhere', request: { url: `${sink.origin}/a` } }] }));
    expect([error.status, error.code]).toEqual([400, 'SLUICE_ERR_VALIDATION']);
    expect(error.problem?.errors).toEqual([{ field: expect.stringContaining('steps.0.onSuccess'), message: expect.stringContaining('nowhere') }]);
  });

  it('starts a run and reads it finished, with each step’s state, attempts and response', async () => {
    await client.putWorkflow('onboard', {
      steps: [
        { name: 'create', request: { url: `${sink.origin}/users`, body: { email: '{{ vars.email }}' } } },
        { name: 'welcome', request: { url: `${sink.origin}/mail/{{ steps.create.response.body.id }}`, body: 'hi {{ vars.email }}' } },
        { name: 'skipped', when: { path: 'vars.vip', op: 'eq', value: true }, request: { url: `${sink.origin}/vip` } },
      ],
    });
    const started = await client.startRun('onboard', { vars: { email: 'a@example.com', vip: false } });
    expect(started).toEqual({ id: expect.stringMatching(/^[1-9][0-9]*$/), state: 'running' });
    const run = await finished(started.id);
    expect(run).toEqual({
      id: started.id,
      workflow: 'onboard',
      tenant: 'default',
      state: 'succeeded',
      vars: { email: 'a@example.com', vip: false },
      createdAt: expect.stringMatching(ISO),
      updatedAt: expect.stringMatching(ISO),
      steps: [
        {
          seq: 0,
          name: 'create',
          state: 'succeeded',
          messageId: expect.any(String),
          attempts: 1,
          response: { status: 201, headers: expect.objectContaining({ 'x-request': 'r-7' }), body: '{"id":"u_7"}' },
          updatedAt: expect.stringMatching(ISO),
        },
        {
          seq: 1,
          name: 'welcome',
          state: 'succeeded',
          messageId: expect.any(String),
          attempts: 1,
          response: { status: 200, headers: expect.any(Object), body: 'got hi a@example.com' },
          updatedAt: expect.stringMatching(ISO),
        },
        { seq: 2, name: 'skipped', state: 'skipped', attempts: 0, updatedAt: expect.stringMatching(ISO) },
      ],
    });
    expect(sink.arrivals.some((arrival) => arrival.url === '/mail/u_7')).toBe(true);
  });

  it('lists runs newest first by state with a cursor; a repeated idempotency key answers the first run', async () => {
    await client.putWorkflow('paged', waiting());
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await client.startRun('paged', { vars: { i } })).id);
    const keyed = await client.startRun('paged', { idempotencyKey: 'once', delayMs: 1_000 });
    expect(await client.startRun('paged', { idempotencyKey: 'once' })).toEqual(keyed);
    await client.cancelRun(ids[0]!);

    const first = await client.listRuns('paged', { state: 'running', limit: 2 });
    expect(first.runs.map((run) => run.id)).toEqual([keyed.id, ids[2]]);
    expect(first.runs[0]).toEqual({ id: keyed.id, workflow: 'paged', tenant: 'default', state: 'running', createdAt: expect.stringMatching(ISO), updatedAt: expect.stringMatching(ISO) });
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await client.listRuns('paged', { state: 'running', limit: 2, cursor: first.nextCursor });
    expect(second.runs.map((run) => run.id)).toEqual([ids[1]]);
    expect(second.nextCursor).toBeUndefined();
    expect((await client.listRuns('paged', { state: 'cancelled' })).runs.map((run) => run.id)).toEqual([ids[0]]);
    expect((await client.listRuns('paged')).runs).toHaveLength(4);
    for (const id of [keyed.id, ids[1]!, ids[2]!]) await client.cancelRun(id);
  });

  it('cancels a waiting run: its step is never sent, and a second cancel is a conflict', async () => {
    await client.putWorkflow('slow', waiting());
    const { id } = await client.startRun('slow');
    const before = await client.getRun(id);
    expect(before.steps).toMatchObject([{ name: 'later', state: 'pending', messageId: expect.any(String) }]);
    expect(await client.cancelRun(id)).toEqual({ id, state: 'cancelled' });
    const after = await client.getRun(id);
    expect([after.state, after.steps[0]!.state]).toEqual(['cancelled', 'cancelled']);
    expect((await client.getMessage(before.steps[0]!.messageId!)).state).toBe('cancelled');
    const again = await apiError(client.cancelRun(id));
    expect([again.status, again.code]).toEqual([409, 'SLUICE_ERR_CONFLICT']);
    expect(sink.arrivals.some((arrival) => arrival.url === '/later')).toBe(false);
  });

  it('answers an unknown run or workflow with a 404 SluiceApiError', async () => {
    for (const call of [() => client.getRun('999999999'), () => client.cancelRun('999999999'), () => client.getRun('not-a-run')]) {
      const error = await apiError(call());
      expect([error.status, error.code]).toEqual([404, 'SLUICE_ERR_RUN_NOT_FOUND']);
      expect(error.detail).toMatch(/no run/);
    }
    const noWorkflow = await apiError(client.startRun('nope', { vars: {} }));
    expect([noWorkflow.status, noWorkflow.code]).toEqual([404, 'SLUICE_ERR_WORKFLOW_NOT_FOUND']);
    const both = await apiError(client.putWorkflow('bad-start', waiting()).then(() => client.startRun('bad-start', { deliverAt: Date.now() + 60_000, delayMs: 5 })));
    expect([both.status, both.code]).toEqual([400, 'SLUICE_ERR_VALIDATION']);
  });

  it('keeps a tenant key to its tenant; the admin reaches it with the tenant option', async () => {
    await client.createTenant('wf-acme');
    const acme = new SluiceClient({ url: sluice.url, key: (await client.createKey('wf-acme')).key });
    expect((await acme.putWorkflow('flow', { steps: [{ name: 'ping', request: { url: `${sink.origin}/acme` } }] })).tenant).toBe('wf-acme');
    expect((await client.getWorkflow('flow', { tenant: 'wf-acme' })).tenant).toBe('wf-acme');
    expect((await apiError(client.getWorkflow('flow'))).status).toBe(404);
    const { id } = await client.startRun('flow', {}, { tenant: 'wf-acme' });
    expect((await finished(id, acme)).tenant).toBe('wf-acme');
    expect((await client.listRuns('flow', { tenant: 'wf-acme' })).runs.map((run) => run.id)).toEqual([id]);
    expect((await acme.listWorkflows()).workflows.map((workflow) => workflow.name)).toEqual(['flow']);
    await client.deleteWorkflow('flow', { tenant: 'wf-acme' });
    expect((await acme.listWorkflows()).workflows).toEqual([]);
  });
});
