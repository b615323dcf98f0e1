import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSluice } from '../support/child.js';
import { eventually } from '../support/sluice.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SIGTERM', () => {
  it('stops accepting, answers what it committed, closes the database cleanly', async () => {
    const sluice = await spawnSluice(['--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: 'sk_stop_test_0123456789' }, dir);
    const acked: string[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        try {
          const response = await fetch(`${sluice.url}/in/default`, { method: 'POST', body: '{"x":1}' });
          if (response.status === 202) acked.push(((await response.json()) as { id: string }).id);
        } catch {
          return;
        }
      }
    };
    const workers = Promise.all(Array.from({ length: 8 }, worker));
    // Stop while ingest is running for sure: some requests answered, more on their way.
    await eventually(() => acked.length >= 20, 'ingest to be under way', 20_000);
    const exited = new Promise<number | null>((resolve) => sluice.child.once('exit', (code) => resolve(code)));
    sluice.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    running = false;
    await workers;
    // A clean close checkpoints the WAL into the database file and truncates it.
    const wal = join(dir, 'data', 'sluice.db-wal');
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    const db = new Database(join(dir, 'data', 'sluice.db'), { readonly: true });
    const stored = new Set((db.prepare('SELECT seq FROM messages').all() as { seq: number }[]).map((r) => String(r.seq)));
    db.close();
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
  }, 30_000);
});
