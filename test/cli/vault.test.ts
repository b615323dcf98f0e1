import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, expect, it } from 'vitest';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
});

/** Run the built CLI against the node, with `input` on its standard input; its exit code and output. */
function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, SLUICE_URL: sluice!.url, SLUICE_KEY: sluice!.key, ...options.env } }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(options.input ?? '');
  });
}

async function json(args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<any> {
  const { code, stdout, stderr } = await cli(args, options);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout);
}

it('sluice secrets and templates: a value read from stdin or the environment, never shown; a message sent with --template and --var', async () => {
  sink = await new Sink(() => ({ status: 200 })).start();
  sluice = await startSluice({ network: { allowPrivate: true } });
  const token = 'tok_cli_5b9f2c7e1d';
  expect(await json(['secrets', 'put', 'api_token'], { input: `${token}\n` })).toEqual({ name: 'api_token', stored: true });
  expect(await json(['secrets', 'put', 'other', '--from-env', 'OTHER_TOKEN'], { env: { OTHER_TOKEN: 'tok_other' } })).toEqual({ name: 'other', stored: true });
  const listed = await cli(['secrets', 'list']);
  expect(JSON.parse(listed.stdout).secrets.map((secret: { name: string }) => secret.name)).toEqual(['api_token', 'other']);
  expect(listed.stdout).not.toContain(token);
  expect(sluice.app.vault.reveal('default', 'api_token')).toEqual({ ok: true, value: token });

  const file = join(dir, 'notify.yaml');
  writeFileSync(
    file,
    [`url: "${sink.origin}/users/{{ vars.user.id }}"`, 'headers: { authorization: "Bearer {{ secrets.api_token }}" }', 'body: { email: "{{ vars.user.email }}", age: "{{ vars.user.age }}" }', ''].join('\n'),
  );
  expect(await json(['templates', 'put', 'notify', '--file', file])).toMatchObject({ name: 'notify', vars: ['user.id', 'user.email', 'user.age'], secrets: ['api_token'] });
  expect((await json(['templates', 'list'])).templates).toHaveLength(1);
  expect((await json(['templates', 'get', 'notify'])).config.url).toContain('{{ vars.user.id }}');

  const sent = await json(['send', '--template', 'notify', '--var', 'user.email=a@b.c', '--var', 'user.id=7', '--var-json', 'user.age=42']);
  expect(sent.state).toBe('ready');
  await eventually(() => sink!.arrivals.length === 1, 'the delivery');
  expect(sink.arrivals[0]!.url).toBe('/users/7');
  expect(sink.arrivals[0]!.headers.authorization).toBe(`Bearer ${token}`);
  expect(JSON.parse(sink.arrivals[0]!.body.toString())).toEqual({ email: 'a@b.c', age: 42 });

  const missing = await cli(['send', '--template', 'notify', '--var', 'user.id=7']);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toMatch(/vars\.user\.email/);
  const clash = await cli(['send', 'https://example.com/', '--template', 'notify']);
  expect([clash.code, clash.stderr]).toEqual([1, expect.stringMatching(/not with a url/)]);
  expect((await cli(['secrets', 'put', 'empty'], { input: '\n' })).stderr).toMatch(/empty/);

  const scheduled = await json(['schedule', 'add', 'weekly', '--template', 'notify', '--every', '1h', '--var', 'user.email=w@b.c', '--var', 'user.id=9', '--var-json', 'user.age=1']);
  expect(scheduled.message).toMatchObject({ template: 'notify', vars: { user: { email: 'w@b.c', id: '9', age: 1 } } });
  expect((await cli(['schedule', 'add', 'neither', '--every', '1h'])).stderr).toMatch(/a url or --template/);
  await sluice.api('DELETE', '/v1/schedules/weekly');

  expect(await json(['secrets', 'rotate-key'])).toMatchObject({ generated: true, resealed: 2, remaining: 0 });
  expect(await json(['templates', 'delete', 'notify'])).toEqual({ name: 'notify', deleted: true });
  expect(await json(['secrets', 'delete', 'api_token'])).toEqual({ name: 'api_token', deleted: true });
  expect((await json(['secrets', 'list'])).secrets.map((secret: { name: string }) => secret.name)).toEqual(['other']);
});
