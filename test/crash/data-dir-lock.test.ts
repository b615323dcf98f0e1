import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { killHard, killWhenTestEnds, spawnSluice } from '../support/child.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const KEY = 'sk_lock_test_0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'sluice-lock-'));
const dataDir = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = () => spawnSluice(['--data-dir', dataDir], { SLUICE_ADMIN_KEY: KEY }, dir);

/** Run `sluice start` on the same data dir to its end: its exit code and what it said on stderr. */
function startExpectingExit(): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'start', '--port', '0', '--data-dir', dataDir], {
    cwd: dir,
    env: { ...process.env, SLUICE_ADMIN_KEY: KEY, SLUICE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killWhenTestEnds(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('one process per data dir', () => {
  it('refuses a second process with exit 1 naming the pid, and a kill -9 leaves no stale lock', async () => {
    const first = await start();
    const second = await startExpectingExit();
    expect(second.code).toBe(1);
    expect(second.stderr.trim()).toBe(`sluice: the data dir ${dataDir} is in use by another Sluice (pid ${first.child.pid}); stop it first`);

    await killHard(first.child);
    const third = await start();
    expect((await fetch(`${third.url}/healthz`)).status).toBe(200);
  });
});
