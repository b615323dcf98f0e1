import { describe, expect, it } from 'vitest';
import { runCrashLoop } from '../../bench/crash-loop.js';

/**
 * The short crash loop: 3 SIGKILLs of the built Sluice under a small mixed load (ingest to a pull
 * queue with a consumer, ingest to a push queue with a sink, a schedule every second), then a drain
 * and the proof. The long version is `npm run crashtest` (20 kills). No timing assertions: the
 * bounds below only stop a hung run.
 */
describe('crash loop (short)', () => {
  it('loses no acknowledged message across 3 kills, duplicates only where in flight, integrity ok', async () => {
    const report = await runCrashLoop({ kills: 3, minUpMs: 800, maxUpMs: 2_000, ingestWorkers: 3, drainTimeoutMs: 60_000, deadlineMs: 120_000 });
    expect(report.kills).toBe(3);
    expect(report.acknowledged.pull).toBeGreaterThan(0);
    expect(report.acknowledged.push).toBeGreaterThan(0);
    expect(report.drained).toBe(true);
    expect(report.lost).toEqual({ pull: [], push: [] });
    expect(report.wrongBody).toEqual([]);
    expect(report.notDelivered).toEqual([]);
    expect(report.deliveredButUnseen).toEqual([]);
    expect(report.dead).toBe(0);
    expect(report.duplicates.unexplained).toEqual([]);
    expect(report.integrity).toBe('ok');
    expect(report.ok).toBe(true);
  }, 300_000);
});
