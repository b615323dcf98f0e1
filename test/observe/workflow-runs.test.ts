import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { SluiceEvents } from '../../src/observe/events.js';
import { FirstComeLabels, MAX_WORKFLOW_LABELS, OTHER_WORKFLOW } from '../../src/observe/metrics.js';
import { RunActivity } from '../../src/observe/run-events.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * Workflow runs as monitoring shows them, on a real node (SQLite) against a real sink: counted by
 * outcome and by step state in /metrics, and sent on GET /v1/stats/stream as run-started, run-step
 * and run-ended, to the admin and to the run's own tenant only.
 */

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
  sluice = undefined;
  sink = undefined;
});

interface Frame {
  type: string;
  data: any;
}

/** Open the stats stream and collect its frames until `enough` holds (or the time is up). */
async function collect(key: string): Promise<{ frames: Frame[]; until(enough: (frames: Frame[]) => boolean): Promise<Frame[]> }> {
  const response = await fetch(`${sluice!.url}/v1/stats/stream`, { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const frames: Frame[] = [];
  let buffer = '';
  return {
    frames,
    async until(enough) {
      const deadline = Date.now() + 60_000;
      try {
        while (!enough(frames)) {
          if (Date.now() > deadline) throw new Error(`stream ended the wait with only: ${frames.filter((f) => f.type !== 'snapshot').map((f) => f.type).join(', ')}`);
          const { value, done } = await reader.read();
          if (done) throw new Error('stream closed early');
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const type = /^event: (.+)$/m.exec(frame)?.[1];
            const data = /^data: (.+)$/m.exec(frame)?.[1];
            if (type && data) frames.push({ type, data: JSON.parse(data) });
          }
        }
      } finally {
        await reader.cancel();
      }
      return frames;
    },
  };
}

async function scrape(): Promise<string> {
  const response = await fetch(`${sluice!.url}/metrics`, { headers: { authorization: `Bearer ${sluice!.key}` } });
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one sample, its labels in the order prom-client writes them; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}} `;
  const line = text.split('\n').find((candidate) => candidate.startsWith(wanted));
  return line === undefined ? undefined : Number(line.slice(wanted.length));
}

async function finished(id: string, key?: string): Promise<any> {
  return eventually(async () => {
    const run = (await sluice!.api('GET', `/v1/workflows/runs/${id}`, undefined, key)).body;
    return run.state !== 'running' && run;
  }, `run ${id} to end`, 60_000);
}

const runFrames = (frames: Frame[], run: string) => frames.filter((f) => f.type.startsWith('run-') && f.data.run === run);
const ended = (frames: Frame[], run: string) => runFrames(frames, run).some((f) => f.type === 'run-ended');

describe('workflow runs in /metrics and GET /v1/stats/stream', () => {
  it('counts runs by outcome and steps by state, and streams each run to the admin and its own tenant', { timeout: 120_000 }, async () => {
    sink = await new Sink((req) => (req.url === '/charge' ? { status: 402, body: '{"error":"declined"}' } : { status: 200, body: 'ok' })).start();
    sluice = await startSluice({ network: { allowPrivate: true } });
    expect((await sluice.api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
    const acme = (await sluice.api('POST', '/v1/tenants/acme/keys')).body.key as string;
    const put = async (name: string, steps: unknown[], key?: string) => expect((await sluice!.api('PUT', `/v1/workflows/${name}`, { steps }, key)).status).toBe(201);
    await put('onboard', [
      { name: 'create', request: { url: `${sink.origin}/create` } },
      { name: 'upsell', when: { path: 'steps.create.response.status', op: 'eq', value: 500 }, request: { url: `${sink.origin}/upsell` } },
      { name: 'done', request: { url: `${sink.origin}/done` } },
    ]);
    await put('pay', [{ name: 'charge', request: { url: `${sink.origin}/charge` }, retry: { maxAttempts: 1 } }]);
    await put('slow', [{ name: 'later', delayMs: 3_600_000, request: { url: `${sink.origin}/later` } }]);
    await put('noop', [{ name: 'maybe', when: { path: 'vars.go', op: 'exists' }, request: { url: `${sink.origin}/maybe` } }]);
    await put('flow', [{ name: 'ping', request: { url: `${sink.origin}/ping` } }], acme);

    const admin = await collect(sluice.key);
    const tenant = await collect(acme);
    const start = async (name: string, key?: string) => (await sluice!.api('POST', `/v1/workflows/${name}/runs`, {}, key)).body.id as string;
    const ids = { onboard: await start('onboard'), pay: await start('pay'), slow: await start('slow'), noop: await start('noop'), flow: await start('flow', acme) };
    expect((await finished(ids.onboard)).state).toBe('succeeded');
    expect((await finished(ids.pay)).state).toBe('failed');
    expect((await finished(ids.noop)).state).toBe('succeeded');
    expect((await finished(ids.flow, acme)).state).toBe('succeeded');
    expect((await sluice.api('DELETE', `/v1/workflows/runs/${ids.slow}`)).status).toBe(200);

    const adminFrames = await admin.until((frames) => Object.values(ids).every((id) => ended(frames, id)));
    const tenantFrames = await tenant.until((frames) => ended(frames, ids.flow));

    // One run's story, in order: started, each step written, then its end after the last step.
    const story = runFrames(adminFrames, ids.onboard).map((f) => [f.type, f.data.step, f.data.stepState, f.data.state]);
    expect(story).toEqual([
      ['run-started', undefined, undefined, 'running'],
      ['run-step', 'create', 'pending', 'running'],
      ['run-step', 'create', 'succeeded', 'running'],
      ['run-step', 'upsell', 'skipped', 'running'],
      ['run-step', 'done', 'pending', 'running'],
      ['run-step', 'done', 'succeeded', 'succeeded'],
      ['run-ended', undefined, undefined, 'succeeded'],
    ]);
    const started = runFrames(adminFrames, ids.onboard)[0]!.data;
    expect(started).toMatchObject({ type: 'run-started', run: ids.onboard, tenant: 'default', workflow: 'onboard', origin: 'api' });
    expect(Date.parse(started.at)).toBeGreaterThan(0);
    // A run over at its start (its only step skipped) still starts, then ends, once each.
    expect(runFrames(adminFrames, ids.noop).map((f) => [f.type, f.data.state])).toEqual([
      ['run-started', 'succeeded'],
      ['run-step', 'succeeded'],
      ['run-ended', 'succeeded'],
    ]);
    expect(runFrames(adminFrames, ids.pay).at(-1)!.data).toMatchObject({ type: 'run-ended', state: 'failed', workflow: 'pay' });
    expect(runFrames(adminFrames, ids.slow).map((f) => [f.type, f.data.state])).toEqual([
      ['run-started', 'running'],
      ['run-step', 'running'],
      ['run-ended', 'cancelled'],
    ]);
    expect(runFrames(adminFrames, ids.flow).map((f) => f.data.tenant)).toEqual(['acme', 'acme', 'acme', 'acme']);
    // The tenant's stream has its own run and nothing of the default tenant's.
    const tenantRuns = tenantFrames.filter((f) => f.type.startsWith('run-'));
    expect(tenantRuns.map((f) => f.type)).toEqual(['run-started', 'run-step', 'run-step', 'run-ended']);
    expect(tenantRuns.every((f) => f.data.run === ids.flow && f.data.tenant === 'acme')).toBe(true);
    // Run frames are not logged events: GET /v1/stats's recent events do not fill up with them.
    expect((await sluice.api('GET', '/v1/stats')).body.recentEvents.some((e: { type: string }) => e.type.startsWith('run'))).toBe(false);

    const text = await eventually(async () => {
      const scraped = await scrape();
      return sample(scraped, 'sluice_workflow_runs_total', { tenant: 'default', workflow: 'slow', outcome: 'cancelled' }) === 1 && scraped;
    }, 'the cancel counted');
    const runs = (tenantName: string, workflow: string, outcome: string) => sample(text, 'sluice_workflow_runs_total', { tenant: tenantName, workflow, outcome });
    const steps = (workflow: string, state: string) => sample(text, 'sluice_workflow_steps_total', { tenant: 'default', workflow, state });
    expect([runs('default', 'onboard', 'started'), runs('default', 'onboard', 'succeeded'), runs('default', 'onboard', 'failed')]).toEqual([1, 1, undefined]);
    expect([runs('default', 'pay', 'started'), runs('default', 'pay', 'failed')]).toEqual([1, 1]);
    expect([runs('default', 'slow', 'started'), runs('default', 'slow', 'cancelled')]).toEqual([1, 1]);
    expect([runs('default', 'noop', 'started'), runs('default', 'noop', 'succeeded')]).toEqual([1, 1]);
    expect([runs('acme', 'flow', 'started'), runs('acme', 'flow', 'succeeded')]).toEqual([1, 1]);
    expect([steps('onboard', 'pending'), steps('onboard', 'succeeded'), steps('onboard', 'skipped')]).toEqual([2, 2, 1]);
    expect([steps('pay', 'pending'), steps('pay', 'failed')]).toEqual([1, 1]);
    expect(steps('noop', 'skipped')).toBe(1);
    expect(text).toContain('# TYPE sluice_workflow_runs_total counter');
  });
});

/** A RunActivity whose counts and frames are written down. */
function recordingActivity() {
  const counted: string[] = [];
  const sent: string[] = [];
  const activity = new RunActivity({
    clock: new ManualClock(1_000),
    metrics: {
      recordRun: (tenant, workflow, outcome) => counted.push(`${workflow} ${outcome}`),
      recordStep: (tenant, workflow, state) => counted.push(`${workflow} step ${state}`),
    },
    streams: { size: 1, publishToTenant: (type, tenant, data) => sent.push(`${type} ${(data as { run: string }).run}`) },
  });
  return { activity, counted, sent };
}

describe('RunActivity', () => {
  const event = (id: string, state: SluiceEvents['run']['state'], extra: Partial<SluiceEvents['run']> = {}): SluiceEvents['run'] => ({ id, tenant: 't', workflow: 'w', state, ...extra });

  it('counts a run’s end once, whichever of the events of the ending change carry it, and sends it after them', async () => {
    const { activity, counted, sent } = recordingActivity();
    activity.record(event('1', 'running', { origin: 'api' }));
    activity.record(event('1', 'running', { step: 'a', stepState: 'pending' }));
    // the last change: the step done, a skipped one after it, the run succeeded
    activity.record(event('1', 'succeeded', { step: 'a', stepState: 'succeeded' }));
    activity.record(event('1', 'succeeded', { step: 'b', stepState: 'skipped' }));
    await Promise.resolve();
    expect(counted).toEqual(['w started', 'w step pending', 'w step succeeded', 'w succeeded', 'w step skipped']);
    expect(sent).toEqual(['run-started 1', 'run-step 1', 'run-step 1', 'run-step 1', 'run-ended 1']);
  });

  it('counts a cancel, and a run that ended again after it was resumed', async () => {
    const { activity, counted } = recordingActivity();
    activity.record(event('2', 'failed', { step: 'a', stepState: 'failed' }));
    activity.record(event('2', 'running', { step: 'a', stepState: 'pending' }));
    activity.record(event('2', 'failed', { step: 'a', stepState: 'failed' }));
    activity.record(event('3', 'cancelled'));
    expect(counted.filter((line) => !line.includes('step'))).toEqual(['w failed', 'w failed', 'w cancelled']);
  });
});

describe('FirstComeLabels', () => {
  it('gives the first pairs their own label and the rest one shared label, for good', () => {
    const labels = new FirstComeLabels(MAX_WORKFLOW_LABELS, OTHER_WORKFLOW);
    for (let i = 0; i < MAX_WORKFLOW_LABELS; i += 1) expect(labels.labelFor(`t\u0000w${i}`)).toBe(`t\u0000w${i}`);
    expect(labels.labelFor('t\u0000late')).toBe(OTHER_WORKFLOW);
    expect(labels.labelFor('t\u0000w0')).toBe('t\u0000w0');
  });
});
