import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, tickTimes, type TestSluice } from '../support/sluice.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-missed-'));
const sink = new Sink(() => ({ status: 200 }));
let sluice: TestSluice | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('ticks missed while Sluice was down', () => {
  // The clock stands still except where the test moves it: no tick comes due on its own, so every
  // message below is one the restart decided on, and the time the restart happened is known exactly.
  it('are skipped, fired once (the latest) or all fired, as each schedule says', async () => {
    await sink.start();
    const createdAt = Date.parse('2026-03-02T10:00:00.000Z');
    const clock = new ManualClock(createdAt);
    const config = { network: { allowPrivate: true } };
    sluice = await startSluice(config, { clock, dir });
    for (const missed of ['skip', 'once', 'all']) {
      const created = await sluice.api('POST', '/v1/schedules', { name: `tick-${missed}`, every: '1s', missed, message: { url: `${sink.origin}/tick/${missed}` } });
      expect(created.status).toBe(201);
    }
    await sluice.stop();

    clock.advance(3_500); // down over the ticks at +1 s, +2 s and +3 s
    sluice = await startSluice(config, { clock, dir });
    // Each schedule moves on to its next tick in the commit that fires what it missed.
    const nextRuns = async () => ((await sluice!.api('GET', '/v1/schedules')).body.schedules as { nextRunAt: string }[]).map((s) => Date.parse(s.nextRunAt));
    await eventually(async () => (await nextRuns()).every((at) => at === createdAt + 4_000), 'every schedule to move on past the restart');
    expect(await tickTimes(sluice.client)).toEqual({ skip: [], once: [createdAt + 3_000], all: [createdAt + 1_000, createdAt + 2_000, createdAt + 3_000] });
  });
});
