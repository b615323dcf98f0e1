import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, expect, it } from 'vitest';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/** The built `sluice workflows` and `sluice runs` commands against a real node and a real sink. */
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-workflows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
});

/** Run the built CLI against the node; its exit code and output. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, SLUICE_URL: sluice!.url, SLUICE_KEY: sluice!.key } }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function json(args: string[]): Promise<any> {
  const { code, stdout, stderr } = await cli(args);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout);
}

it('sluice workflows put --file (YAML), list, get, delete; sluice runs start --vars, get, list --state, cancel', { timeout: 120_000 }, async () => {
  sink = await new Sink((req) => (req.url === '/users' ? { status: 201, headers: { 'content-type': 'application/json' }, body: '{"id":"u_1"}' } : { status: 200, body: 'ok' })).start();
  sluice = await startSluice({ network: { allowPrivate: true } });

  const file = join(dir, 'onboard.yaml');
  writeFileSync(
    file,
    [
      'steps:',
      '  - name: create',
      `    request: { url: "${sink.origin}/users", body: { email: "{{ vars.email }}" } }`,
      '  - name: welcome',
      `    request: { url: "${sink.origin}/mail/{{ steps.create.response.body.id }}" }`,
      '',
    ].join('\n'),
  );
  expect(await json(['workflows', 'put', 'onboard', '--file', file])).toMatchObject({ name: 'onboard', tenant: 'default', fromFile: false });
  const slow = join(dir, 'slow.json');
  writeFileSync(slow, JSON.stringify({ steps: [{ name: 'later', delayMs: 3_600_000, request: { url: `${sink.origin}/later` } }] }));
  expect(await json(['workflows', 'put', 'slow', '-f', slow])).toMatchObject({ name: 'slow' });
  expect((await json(['workflows', 'list'])).workflows.map((workflow: { name: string }) => workflow.name)).toEqual(['onboard', 'slow']);
  expect((await json(['workflows', 'get', 'onboard'])).config.steps[1].request.url).toContain('{{ steps.create.response.body.id }}');

  const started = await json(['runs', 'start', 'onboard', '--vars', '{"email":"a@example.com"}', '--idempotency-key', 'cli-1']);
  expect(started).toEqual({ id: expect.any(String), state: 'running' });
  expect(await json(['runs', 'start', 'onboard', '--vars', '{"email":"a@example.com"}', '--idempotency-key', 'cli-1'])).toMatchObject({ id: started.id });
  const run = await eventually(async () => {
    const read = await json(['runs', 'get', started.id]);
    return read.state !== 'running' && read;
  }, 'the run to end');
  expect(run).toMatchObject({ id: started.id, state: 'succeeded', vars: { email: 'a@example.com' } });
  expect(run.steps.map((step: { name: string; state: string; response: { status: number } }) => [step.name, step.state, step.response.status])).toEqual([
    ['create', 'succeeded', 201],
    ['welcome', 'succeeded', 200],
  ]);
  expect(sink.arrivals.map((arrival) => arrival.url)).toEqual(['/users', '/mail/u_1']);

  const waiting = await json(['runs', 'start', 'slow']);
  expect((await json(['runs', 'list', 'slow', '--state', 'running'])).runs.map((listed: { id: string }) => listed.id)).toEqual([waiting.id]);
  expect(await json(['runs', 'cancel', waiting.id])).toEqual({ id: waiting.id, state: 'cancelled' });
  expect((await json(['runs', 'list', 'slow', '--state', 'running'])).runs).toEqual([]);
  const page = await json(['runs', 'list', 'slow', '--state', 'cancelled', '--limit', '1']);
  expect(page.runs.map((listed: { id: string; state: string }) => [listed.id, listed.state])).toEqual([[waiting.id, 'cancelled']]);

  const again = await cli(['runs', 'cancel', waiting.id]);
  expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/409 SLUICE_ERR_CONFLICT/)]);
  expect((await cli(['runs', 'get', '999999'])).stderr).toMatch(/404 SLUICE_ERR_RUN_NOT_FOUND/);
  expect((await cli(['runs', 'start', 'onboard', '--vars', '[1]'])).stderr).toMatch(/--vars.*JSON object/);
  expect((await cli(['runs', 'list', 'slow', '--state', 'lost'])).stderr).toMatch(/running, succeeded, failed, cancelled/);

  expect(await json(['workflows', 'delete', 'slow'])).toEqual({ name: 'slow', deleted: true });
  expect((await cli(['workflows', 'get', 'slow'])).stderr).toMatch(/404 SLUICE_ERR_WORKFLOW_NOT_FOUND/);
});
