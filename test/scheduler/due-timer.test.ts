import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { DueTimer } from '../../src/scheduler/due-timer.js';
import { eventually } from '../support/sluice.js';

let timer: DueTimer | undefined;
afterEach(() => timer?.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the due timer', () => {
  it('never runs twice at once: a time hinted during a slow run is kept for after it', async () => {
    let active = 0;
    let mostActive = 0;
    const runs: number[] = [];
    let hintDuringRun: (() => void) | undefined;
    timer = new DueTimer(
      systemClock,
      async (now) => {
        active += 1;
        mostActive = Math.max(mostActive, active);
        runs.push(now);
        hintDuringRun?.();
        hintDuringRun = undefined;
        await sleep(80);
        active -= 1;
      },
      async () => undefined,
    );
    const started = Date.now();
    hintDuringRun = () => timer!.hint(Date.now() + 20);
    timer.start();
    await eventually(() => runs.length >= 2, 'the hinted run');
    expect(mostActive).toBe(1);
    // The hinted time fell inside the first run: the second follows it, not a 30 s sleep.
    expect(runs[1]! - started).toBeLessThan(10_000);
  });

  it('runs again at once for a time that became due while it ran', async () => {
    const runs: number[] = [];
    timer = new DueTimer(
      systemClock,
      async (now) => {
        runs.push(now);
        if (runs.length === 1) timer!.hint(Date.now() - 1);
        await sleep(10);
      },
      async () => undefined,
    );
    timer.start();
    await eventually(() => runs.length >= 2, 'the second run', 10_000);
    await sleep(100);
    expect(runs).toHaveLength(2);
  });

  it('asks for the next due time after each run and sleeps until then', async () => {
    const runs: number[] = [];
    const dueAt = Date.now() + 150;
    timer = new DueTimer(
      systemClock,
      async (now) => {
        runs.push(now);
      },
      async () => (runs.length === 1 ? dueAt : undefined),
    );
    timer.start();
    await eventually(() => runs.length >= 2, 'the run at the stored due time', 10_000);
    expect(runs[1]!).toBeGreaterThanOrEqual(dueAt);
  });
});
