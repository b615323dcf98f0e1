import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { killHard, spawnSluice } from '../support/child.js';
import { eventually } from '../support/sluice.js';

const KEY = 'sk_crash_test_key_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sluice-routed-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// One source, three routes that all match every request: each acknowledged request is three messages.
writeFileSync(
  join(dir, 'sluice.yaml'),
  `queues:
  billing: { mode: pull }
  audit: { mode: pull }
  everything: { mode: pull }
sources:
  stripe:
    routes:
      - { queue: billing, when: { path: body.type, op: prefix, value: "invoice." } }
      - { queue: audit, when: { path: body.w, op: exists } }
      - { queue: everything }
`,
);

/** Post routed requests from `workers` connections until stopped; collect the id lists Sluice acknowledged. */
function loadUntilStopped(url: string, workers: number) {
  const acked: string[][] = [];
  let running = true;
  const worker = async (w: number) => {
    for (let i = 0; running; i += 1) {
      try {
        const body = JSON.stringify({ type: 'invoice.paid', w, i, pad: 'x'.repeat(512) });
        const response = await fetch(`${url}/in/stripe`, { method: 'POST', body });
        if (response.status === 202) acked.push(((await response.json()) as { ids: string[] }).ids);
      } catch {
        return; // the server died: what it acknowledged is in `acked`
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return { acked, stop: async () => ((running = false), await done) };
}

describe('kill -9 during routed ingest', () => {
  it('loses no acknowledged message and stores no partial fan-out', async () => {
    const allAcked: string[][] = [];
    for (let round = 0; round < 2; round += 1) {
      const sluice = await spawnSluice(['--config', join(dir, 'sluice.yaml'), '--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);
      const load = loadUntilStopped(sluice.url, 12);
      await eventually(() => load.acked.length >= 10, 'routed ingest to be under way');
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 500));
      await killHard(sluice.child);
      await load.stop();
      allAcked.push(...load.acked);
    }
    expect(allAcked.every((ids) => ids.length === 3)).toBe(true);
    const db = new Database(join(dir, 'data', 'sluice.db'), { readonly: true });
    const rows = db.prepare('SELECT seq, queue, payload_seq FROM messages').all() as { seq: number; queue: string; payload_seq: number | null }[];
    const payloads = new Set((db.prepare('SELECT seq FROM payloads').all() as { seq: number }[]).map((row) => row.seq));
    const integrity = db.pragma('integrity_check', { simple: true });
    db.close();
    const stored = new Set(rows.map((row) => String(row.seq)));
    expect(allAcked.flat().filter((id) => !stored.has(id))).toEqual([]);
    // Every stored request is whole: three messages (one per queue) naming one payload that exists.
    const requests = new Map<number, string[]>();
    for (const row of rows) {
      expect(row.payload_seq).not.toBeNull();
      requests.set(row.payload_seq!, [...(requests.get(row.payload_seq!) ?? []), row.queue]);
    }
    for (const [payload, queues] of requests) {
      expect(queues.sort()).toEqual(['audit', 'billing', 'everything']);
      expect(payloads.has(payload)).toBe(true);
    }
    expect(payloads.size).toBe(requests.size);
    expect(integrity).toBe('ok');
  });
});
