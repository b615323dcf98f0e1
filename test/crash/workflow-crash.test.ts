import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { killHard, spawnSluice, type ChildSluice } from '../support/child.js';
import { Sink } from '../support/sink.js';
import { eventually } from '../support/sluice.js';

/**
 * Workflow runs across kill -9 (SPEC: a run continues after restart; a step is sent again only when
 * its own attempt was in flight). A real child node on SQLite is killed with SIGKILL and started
 * again on the same data dir; what is checked is what the sink received, per step, and what
 * GET /v1/workflows/runs/{id} shows.
 */

const KEY = 'sk_workflow_crash_0123456789';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A data dir with a sluice.yaml holding `workflows`; its node is started (again) by the function answered. */
function node(workflows: Record<string, unknown>): () => Promise<ChildSluice> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-workflow-crash-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'sluice.yaml'), stringify({ network: { allowPrivate: true }, workflows }));
  return () => spawnSluice(['--config', join(dir, 'sluice.yaml'), '--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);
}

async function api(sluice: ChildSluice, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${sluice.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return response.json();
}

const getRun = (sluice: ChildSluice, id: string) => api(sluice, 'GET', `/v1/workflows/runs/${id}`);

async function ended(sluice: ChildSluice, id: string): Promise<any> {
  return eventually(async () => {
    const run = await getRun(sluice, id);
    return run.state !== 'running' && run;
  }, `run ${id} to end`, 60_000);
}

function arrivalsAt(target: Sink, path: string): number {
  return target.arrivals.filter((arrival) => arrival.url === path).length;
}

/** Three steps to the sink; the second waits `delayMs` after the first. */
function threeSteps(target: Sink, delayMs?: number) {
  return {
    steps: [
      { name: 'one', request: { url: `${target.origin}/one` } },
      { name: 'two', ...(delayMs === undefined ? {} : { delayMs }), request: { url: `${target.origin}/two`, body: '{{ steps.one.response.body }}' } },
      { name: 'three', request: { url: `${target.origin}/three` } },
    ],
  };
}

describe('workflow runs across kill -9', () => {
  it('killed while a step waits for its delay: after the restart the run finishes, each step sent once', async () => {
    const target = await new Sink((req) => ({ status: 200, body: `answer of ${req.url}` })).start();
    try {
      // Long enough that the node is surely killed before step two is due, whatever the load.
      const start = node({ paced: threeSteps(target, 8_000) });
      let sluice = await start();
      const { id } = await api(sluice, 'POST', '/v1/workflows/paced/runs', {});
      const waiting = await eventually(async () => {
        const run = await getRun(sluice, id);
        return run.steps.length === 2 && run;
      }, 'step two to wait', 30_000);
      expect(waiting.steps.map((step: any) => [step.name, step.state])).toEqual([
        ['one', 'succeeded'],
        ['two', 'pending'],
      ]);
      expect((await api(sluice, 'GET', `/v1/messages/${waiting.steps[1].messageId}`)).state).toBe('scheduled');
      await killHard(sluice.child);

      sluice = await start();
      const run = await ended(sluice, id);
      expect(run.state).toBe('succeeded');
      expect(run.steps.map((step: any) => [step.name, step.state, step.attempts])).toEqual([
        ['one', 'succeeded', 1],
        ['two', 'succeeded', 1],
        ['three', 'succeeded', 1],
      ]);
      expect([arrivalsAt(target, '/one'), arrivalsAt(target, '/two'), arrivalsAt(target, '/three')]).toEqual([1, 1, 1]);
      expect(target.arrivals.find((arrival) => arrival.url === '/two')!.body.toString()).toBe('answer of /one');
      await killHard(sluice.child);
    } finally {
      await target.stop();
    }
  });

  it('killed while a step is being sent: that step is sent again after the restart, the one before it never, and the run finishes', async () => {
    // The first request of step two is held open and never answered: the node dies with it in flight.
    const never = new Promise<void>(() => {});
    const target = await new Sink((req) => (req.url === '/two' && arrivalsAt(target, '/two') === 1 ? { status: 200, after: never } : { status: 200, body: `answer of ${req.url}` })).start();
    try {
      const start = node({ held: threeSteps(target) });
      let sluice = await start();
      const { id } = await api(sluice, 'POST', '/v1/workflows/held/runs', {});
      await eventually(() => arrivalsAt(target, '/two') === 1, 'step two in flight', 30_000);
      const inFlight = await getRun(sluice, id);
      expect(inFlight.state).toBe('running');
      expect(inFlight.steps.map((step: any) => [step.name, step.state])).toEqual([
        ['one', 'succeeded'],
        ['two', 'pending'],
      ]);
      await killHard(sluice.child);

      sluice = await start();
      const run = await ended(sluice, id);
      expect(run.state).toBe('succeeded');
      expect(run.steps.map((step: any) => [step.name, step.state])).toEqual([
        ['one', 'succeeded'],
        ['two', 'succeeded'],
        ['three', 'succeeded'],
      ]);
      expect(run.steps[1].messageId).toBe(inFlight.steps[1].messageId);
      expect(run.steps[1].response).toMatchObject({ status: 200, body: 'answer of /two' });
      expect([arrivalsAt(target, '/one'), arrivalsAt(target, '/two'), arrivalsAt(target, '/three')]).toEqual([1, 2, 1]);
      await killHard(sluice.child);
    } finally {
      await target.stop();
    }
  });
});
