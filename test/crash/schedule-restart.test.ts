import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceClient } from '../../src/client/client.js';
import { killHard, spawnSluice } from '../support/child.js';
import { Sink } from '../support/sink.js';
import { eventually } from '../support/sluice.js';

const KEY = 'sk_schedule_restart_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sluice-sched-'));
const sink = new Sink(() => ({ status: 200 }));
afterAll(async () => {
  await sink.stop();
  rmSync(dir, { recursive: true, force: true });
});

const start = () => spawnSluice(['--config', join(dir, 'sluice.yaml'), '--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);

describe('scheduling across kill -9', () => {
  it('keeps scheduled messages and schedules; due ones go out at once, in order, under the limit; missed ticks follow their policy', async () => {
    await sink.start();
    writeFileSync(
      join(dir, 'sluice.yaml'),
      `network: { allowPrivate: true }\nlimits:\n  domains:\n    "${sink.domain}": { concurrency: 1 }\n`,
    );
    let sluice = await start();
    let client = new SluiceClient({ url: sluice.url, key: KEY });
    const dueAt = Date.now() + 1_500;
    const batch = await client.sendBatch(Array.from({ length: 20 }, (_, i) => ({ url: `${sink.origin}/due/${i}`, deliverAt: dueAt })));
    expect(batch.messages.every((m) => m.state === 'scheduled')).toBe(true);
    for (const missed of ['skip', 'once', 'all']) {
      await client.addSchedule({ name: `tick-${missed}`, every: '1s', missed, message: { url: `${sink.origin}/tick/${missed}` } });
    }
    await killHard(sluice.child);
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3_500));

    sluice = await start();
    const restartedAt = Date.now();
    client = new SluiceClient({ url: sluice.url, key: KEY });
    await eventually(() => sink.arrivals.filter((a) => a.url.startsWith('/due/')).length === 20, 'the 20 due messages', 15_000);
    const due = sink.arrivals.filter((a) => a.url.startsWith('/due/'));
    expect(due.map((a) => a.url)).toEqual(Array.from({ length: 20 }, (_, i) => `/due/${i}`));
    expect(due.every((a) => a.inFlight === 1 && a.at >= dueAt)).toBe(true);

    // Ticks made within the first moments after the restart, per policy (ticks before the kill don't
    // count). Counted by when the node made them, not when they arrived: on a loaded machine the
    // catch-up ticks wait behind the 20 due messages on this concurrency-1 domain for most of a second.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const ticks = (await client.listMessages({ queue: 'outbound', limit: 1000 })).messages
      .filter((m) => m.path.startsWith('/tick/') && Date.parse(m.receivedAt) > downAt)
      .map((m) => ({ policy: m.path.slice('/tick/'.length), madeAt: Date.parse(m.receivedAt) }));
    const bootAt = Math.min(...ticks.map((tick) => tick.madeAt));
    const catchUp = (policy: string) => ticks.filter((tick) => tick.policy === policy && tick.madeAt < bootAt + 700).length;
    expect(catchUp('skip')).toBeLessThanOrEqual(1);
    expect(catchUp('once')).toBeGreaterThanOrEqual(1);
    expect(catchUp('once')).toBeLessThanOrEqual(2);
    expect(catchUp('all')).toBeGreaterThanOrEqual(3);
    expect(Date.now() - downAt).toBeGreaterThan(3_500);

    const { schedules } = await client.listSchedules();
    expect(schedules.map((s) => s.name)).toEqual(['tick-all', 'tick-once', 'tick-skip']);
    expect(schedules.every((s) => Date.parse(s.nextRunAt ?? '') > restartedAt)).toBe(true);
    await killHard(sluice.child);
  }, 60_000);
});
