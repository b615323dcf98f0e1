import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-refuse-'));
const VAULT_KEY = Buffer.alloc(32, 1).toString('base64');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run `sluice start` in its own directory; it must refuse to start: resolve with its exit code and stderr. */
async function startRefused(name: string, yaml: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const cwd = join(dir, name);
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, 'sluice.yaml'), yaml);
  const started = run(process.execPath, [MAIN, 'start', '--port', '0'], { cwd, env: { ...process.env, SLUICE_ADMIN_KEY: '', SLUICE_SECRET_KEY: '', ...env }, timeout: 60_000 });
  return started.then(
    () => ({ code: 0, stderr: 'started' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
}

describe('sluice start refuses', () => {
  it('a PostgreSQL that does not answer, with exit code 1 and one line naming the URL with its password hidden', async () => {
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const url = 'postgres://sluice:hunter2-secret@127.0.0.1:1/sluice';
    const refused = await startRefused('pg-down', '', { SLUICE_DATABASE_URL: url, SLUICE_ADMIN_KEY: 'sk_admin_0123456789abcdef', SLUICE_SECRET_KEY: VAULT_KEY });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^sluice: PostgreSQL at postgres:\/\/sluice:\*\*\*@127\.0\.0\.1:1\/sluice: [^\n]+\n$/);
    expect(refused.stderr).not.toContain('hunter2');
  });

  it('a Redis that does not answer, with exit code 1 and one line naming the URL with its password hidden', async () => {
    const url = 'redis://:hunter2-secret@127.0.0.1:1';
    const refused = await startRefused('redis-down', '', { SLUICE_DATABASE_URL: 'postgres://127.0.0.1:1/sluice', SLUICE_REDIS_URL: url, SLUICE_ADMIN_KEY: 'sk_admin_0123456789abcdef' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^sluice: Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1 is unreachable: [^\n]+\n$/);
    expect(refused.stderr).not.toContain('hunter2');
  });

  it('PostgreSQL without SLUICE_ADMIN_KEY (every node needs the same one), with exit code 2', async () => {
    const refused = await startRefused('pg-no-key', '', { SLUICE_DATABASE_URL: 'postgres://127.0.0.1:1/sluice' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sluice: SLUICE_ADMIN_KEY: on PostgreSQL every node needs the same admin key[^\n]*\n$/);
  });

  it('PostgreSQL without SLUICE_SECRET_KEY (every node needs the same vault key), with exit code 2', async () => {
    const refused = await startRefused('pg-no-vault-key', '', { SLUICE_DATABASE_URL: 'postgres://127.0.0.1:1/sluice', SLUICE_ADMIN_KEY: 'sk_admin_0123456789abcdef' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sluice: SLUICE_SECRET_KEY: on PostgreSQL every node needs the same vault key[^\n]*\n$/);
  });

  it('a malformed SLUICE_SECRET_KEY, with exit code 2 and one line that does not repeat it', async () => {
    const refused = await startRefused('bad-vault-key', '', { SLUICE_ADMIN_KEY: 'sk_admin_0123456789abcdef', SLUICE_SECRET_KEY: 'hunter2-not-a-key' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sluice: SLUICE_SECRET_KEY: must be the base64 of 32 random bytes[^\n]*\n$/);
    expect(refused.stderr).not.toContain('hunter2');
  });

  it('an admin key shorter than 16 characters, with exit code 2 and one line naming SLUICE_ADMIN_KEY', async () => {
    const refused = await startRefused('short-key', '', { SLUICE_ADMIN_KEY: 'letmein' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sluice: SLUICE_ADMIN_KEY: [^\n]*at least 16[^\n]*\n$/);
    expect(refused.stderr).not.toContain('letmein');
  });

  it('a stored admin key shorter than 16 characters, naming the file', async () => {
    mkdirSync(join(dir, 'stored-key', 'data'), { recursive: true });
    writeFileSync(join(dir, 'stored-key', 'data', 'admin.key'), 'abc\n');
    const refused = await startRefused('stored-key', '', {});
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('admin.key');
  });

  it('a schedule whose cron, every or timezone cannot be used, with exit code 2 naming its key', async () => {
    const yaml = [
      'schedules:',
      '  nightly:',
      '    cron: "61 3 * * *"',
      '    message: { url: "https://example.com/report" }',
      '  hourly:',
      '    every: "fortnight"',
      '    message: { url: "https://example.com/report" }',
      '  local:',
      '    cron: "0 9 * * *"',
      '    timezone: "Mars/Olympus"',
      '    message: { url: "https://example.com/report" }',
      '',
    ].join('\n');
    const refused = await startRefused('bad-schedule', yaml, { SLUICE_ADMIN_KEY: 'sk_refusals_0123456789' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/schedules\.nightly\.cron: minute "61"/);
    expect(refused.stderr).toMatch(/schedules\.hourly\.every: /);
    expect(refused.stderr).toMatch(/schedules\.local\.timezone: unknown time zone/);
  });
});
