import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let sluice: TestSluice | undefined;
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
});

/** Run `sluice sources …` of the built CLI against the node; its parsed JSON output. */
async function sources(key: string, ...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [MAIN, 'sources', ...args], { env: { ...process.env, SLUICE_URL: sluice!.url, SLUICE_KEY: key } });
  return JSON.parse(stdout);
}

describe('sluice sources', () => {
  it('put from YAML or JSON, list, get, test and delete, as the admin or a tenant', async () => {
    sluice = await startSluice({ queues: { billing: { mode: 'pull' }, inbox: { mode: 'pull' } } });
    const yamlFile = join(dir, 'stripe.yaml');
    writeFileSync(
      yamlFile,
      [
        'routes:',
        '  - name: invoices',
        '    queue: billing',
        '    when: { path: body.type, op: prefix, value: "invoice." }',
        'fallback: inbox',
        'verify: { type: token, secret: cli-s3cret, header: x-token }',
        '',
      ].join('\n'),
    );
    const put = await sources(sluice.key, 'put', 'stripe', '--file', yamlFile);
    expect(put).toMatchObject({ name: 'stripe', tenant: 'default', fromFile: false, config: { fallback: 'inbox', routes: [{ name: 'invoices', queue: 'billing' }] } });
    expect(JSON.stringify(put)).not.toContain('cli-s3cret');
    expect((await sources(sluice.key, 'get', 'stripe')).counts).toEqual({ routes: { invoices: 0 }, fallback: 0, unrouted: 0 });

    const requestFile = join(dir, 'request.json');
    writeFileSync(requestFile, JSON.stringify({ headers: { 'x-token': 'x' }, body: { type: 'invoice.paid' } }));
    const tested = await sources(sluice.key, 'test', 'stripe', '--file', requestFile);
    expect(tested.targets).toEqual([{ route: 'invoices', queue: 'billing' }]);
    expect((await sources(sluice.key, 'test', 'stripe')).targets).toEqual([{ queue: 'inbox', fallback: true }]);
    expect((await sluice.api('GET', '/v1/messages')).body.messages).toEqual([]);

    // A tenant's key: its own sources only; the admin names the tenant to list.
    await sluice.api('POST', '/v1/tenants', { name: 'acme' });
    const acme = (await sluice.api('POST', '/v1/tenants/acme/keys')).body.key as string;
    await sluice.api('PUT', '/v1/queues/acme-jobs', { mode: 'pull' }, acme);
    const jsonFile = join(dir, 'acme.json');
    writeFileSync(jsonFile, JSON.stringify({ queue: 'acme-jobs' }));
    expect((await sources(acme, 'put', 'acme-hooks', '--file', jsonFile)).tenant).toBe('acme');
    expect((await sources(acme, 'list')).sources.map((s: { name: string }) => s.name)).toEqual(['acme-hooks']);
    expect((await sources(sluice.key, 'list')).sources.map((s: { name: string }) => s.name)).toEqual(['acme-hooks', 'stripe']);
    expect((await sources(sluice.key, 'list', '--tenant', 'default')).sources.map((s: { name: string }) => s.name)).toEqual(['stripe']);

    expect(await sources(sluice.key, 'delete', 'stripe')).toEqual({ name: 'stripe', deleted: true });
    const refused = await run(process.execPath, [MAIN, 'sources', 'get', 'acme-hooks'], { env: { ...process.env, SLUICE_URL: sluice.url, SLUICE_KEY: acme.replace(/.$/, '') } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((refused as { code: number }).code).toBe(1);
    const missing = await run(process.execPath, [MAIN, 'sources', 'get', 'stripe'], { env: { ...process.env, SLUICE_URL: sluice.url, SLUICE_KEY: sluice.key } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((missing as { stderr: string }).stderr).toContain('SLUICE_ERR_SOURCE_NOT_FOUND');
  });

  it('a bad file is refused with its name, and a bad source with the field', async () => {
    sluice = await startSluice({ queues: { billing: { mode: 'pull' } } });
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'routes: [\n');
    const unreadable = await run(process.execPath, [MAIN, 'sources', 'put', 'x', '--file', broken], { env: { ...process.env, SLUICE_URL: sluice.url, SLUICE_KEY: sluice.key } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((unreadable as { code: number }).code).toBe(1);
    expect((unreadable as { stderr: string }).stderr).toContain('broken.yaml');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ routes: [{ queue: 'billing', when: { path: 'body.type', op: 'eq' } }] }));
    const refused = await run(process.execPath, [MAIN, 'sources', 'put', 'x', '--file', bad], { env: { ...process.env, SLUICE_URL: sluice.url, SLUICE_KEY: sluice.key } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((refused as { stderr: string }).stderr).toMatch(/SLUICE_ERR_VALIDATION.*routes\.0\.when\.value/s);
  });
});
