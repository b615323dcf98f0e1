import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { killHard, spawnSluice } from '../support/child.js';
import { eventually } from '../support/sluice.js';

const KEY = 'sk_crash_test_key_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Send ingest requests from `workers` connections until stopped; collect the ids Sluice acknowledged. */
function loadUntilStopped(url: string, workers: number) {
  const acked = new Set<string>();
  let running = true;
  const worker = async (w: number) => {
    for (let i = 0; running; i += 1) {
      try {
        const response = await fetch(`${url}/in/default`, { method: 'POST', body: JSON.stringify({ w, i, pad: 'x'.repeat(512) }) });
        if (response.status === 202) acked.add(((await response.json()) as { id: string }).id);
      } catch {
        return; // the server died: what it acknowledged is in `acked`
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return { acked, stop: async () => ((running = false), await done) };
}

describe('kill -9 during ingest', () => {
  it('loses no acknowledged message across three kills', async () => {
    const allAcked = new Set<string>();
    for (let round = 0; round < 3; round += 1) {
      const sluice = await spawnSluice(['--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);
      const load = loadUntilStopped(sluice.url, 16);
      // Kill at a random moment once ingest is answering, so every round has commits to lose.
      await eventually(() => load.acked.size >= 10, 'ingest to be under way', 20_000);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 700));
      await killHard(sluice.child);
      await load.stop();
      for (const id of load.acked) allAcked.add(id);
    }
    const db = new Database(join(dir, 'data', 'sluice.db'), { readonly: true });
    const stored = new Set((db.prepare('SELECT seq FROM messages').all() as { seq: number }[]).map((row) => String(row.seq)));
    const integrity = db.pragma('integrity_check', { simple: true });
    db.close();
    const lost = [...allAcked].filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(integrity).toBe('ok');
  }, 60_000);
});
