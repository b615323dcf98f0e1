import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { ClockedNode } from '../support/clocked-node.js';
import { eventually, startSluice } from '../support/sluice.js';

/**
 * The ends of a schedule (maxRuns, endAt, the completed state and what revives it), its run count
 * and skipped ticks, through the API, on each store. The clock stands still except where the test
 * moves it, and each tick is fired by asking the runner for what is due then: so every message is
 * one the schedule decided on at a known instant.
 */

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MINUTE = 60_000;
const at = (ms: number) => new Date(ms).toISOString();

interface Backend {
  /** sluice.yaml's storage part for one test (a schema of its own on PostgreSQL). */
  storage(): Record<string, unknown>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One Sluice that can be stopped and started again on the same data, with the clock the test moves. */
async function harness(backend: Backend) {
  const node = await ClockedNode.start({ storage: backend.storage() }, T0, cleanups);
  return Object.assign(node, {
    /** The tick times (deliverAt) of the messages a schedule made, oldest first. */
    async ticksOf(name: string): Promise<number[]> {
      const { messages } = (await node.api('GET', '/v1/messages?queue=outbound&limit=1000')).body as { messages: { origin: string; deliverAt: string }[] };
      return messages.filter((m) => m.origin === `schedule:${name}`).map((m) => Date.parse(m.deliverAt)).sort((a, b) => a - b);
    },
  });
}

function endsSuite(backend: Backend): void {
  it('maxRuns: counts each run durably, completes with no next run, and a PATCH raising it reactivates', async () => {
    const h = await harness(backend);
    const created = await h.api('POST', '/v1/schedules', { name: 'thrice', every: '1m', maxRuns: 3, message: { url: `${h.sink.origin}/thrice` } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'active', runs: 0, lastRunAt: null, maxRuns: 3 });
    expect(created.body.nextRuns).toEqual([at(T0 + MINUTE), at(T0 + 2 * MINUTE), at(T0 + 3 * MINUTE)]);

    await h.tick();
    await h.tick();
    expect((await h.api('GET', '/v1/schedules/thrice')).body).toMatchObject({ runs: 2, lastRunAt: at(T0 + 2 * MINUTE) });
    // The count is stored with the ticks: a restart keeps it, and the one run left.
    await h.restart();
    const restarted = (await h.api('GET', '/v1/schedules/thrice')).body;
    expect(restarted).toMatchObject({ runs: 2, state: 'active', lastRunAt: at(T0 + 2 * MINUTE), nextRuns: [at(T0 + 3 * MINUTE)] });

    await h.tick();
    await h.tick();
    await h.tick();
    const completed = (await h.api('GET', '/v1/schedules/thrice')).body;
    expect(completed).toMatchObject({ runs: 3, state: 'completed', nextRunAt: null, nextRuns: [], lastRunAt: at(T0 + 3 * MINUTE) });
    expect((await h.api('GET', '/v1/schedules')).body.schedules[0]).toMatchObject({ name: 'thrice', state: 'completed', runs: 3 });
    expect(await h.ticksOf('thrice')).toEqual([T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]);

    const raised = await h.api('PATCH', '/v1/schedules/thrice', { maxRuns: 5 });
    expect(raised.body).toMatchObject({ state: 'active', runs: 3, nextRuns: [at(T0 + 6 * MINUTE), at(T0 + 7 * MINUTE)] });
    for (let i = 0; i < 4; i++) await h.tick();
    expect((await h.api('GET', '/v1/schedules/thrice')).body).toMatchObject({ runs: 5, state: 'completed' });
    expect(await h.ticksOf('thrice')).toEqual([1, 2, 3, 6, 7].map((m) => T0 + m * MINUTE));
  });

  it('startAt anchors every; endAt is inclusive; catch-up never runs past it; a PATCH extending it reactivates', async () => {
    const h = await harness(backend);
    const schedule = { name: 'window', every: '1m', missed: 'all', startAt: at(T0 + 30_000), endAt: at(T0 + 150_000), message: { url: `${h.sink.origin}/window` } };
    const created = await h.api('POST', '/v1/schedules', schedule);
    expect(created.body.nextRuns).toEqual([at(T0 + 30_000), at(T0 + 90_000), at(T0 + 150_000)]);

    // Down from before the first run to well past the end: `missed: all` catches up the three, no more.
    await h.restart(10 * MINUTE);
    await eventually(async () => (await h.api('GET', '/v1/schedules/window')).body.state === 'completed', 'the catch-up to complete the schedule');
    expect((await h.api('GET', '/v1/schedules/window')).body).toMatchObject({ runs: 3, nextRunAt: null, nextRuns: [] });
    expect(await h.ticksOf('window')).toEqual([T0 + 30_000, T0 + 90_000, T0 + 150_000]);

    const extended = await h.api('PATCH', '/v1/schedules/window', { endAt: at(T0 + 12 * MINUTE) });
    expect(extended.body).toMatchObject({ state: 'active', runs: 3 });
    expect(extended.body.nextRuns).toEqual([at(T0 + 10 * MINUTE + 30_000), at(T0 + 11 * MINUTE + 30_000)]);
    await h.tick();
    await h.tick();
    await h.tick();
    expect((await h.api('GET', '/v1/schedules/window')).body).toMatchObject({ runs: 5, state: 'completed' });
    // endAt: null takes the end away.
    const endless = await h.api('PATCH', '/v1/schedules/window', { endAt: null });
    expect(endless.body.endAt).toBeUndefined();
    expect(endless.body.nextRuns).toHaveLength(5);
    expect(endless.body.state).toBe('active');
  });

  it('a tick inside an exclusion is skipped and not counted', async () => {
    const h = await harness(backend);
    const exclude = { times: [{ from: '10:02', to: '10:04' }] };
    const created = await h.api('POST', '/v1/schedules', { name: 'lunch', every: '1m', exclude, message: { url: `${h.sink.origin}/lunch` } });
    expect(created.body.nextRuns).toEqual([1, 4, 5, 6, 7].map((m) => at(T0 + m * MINUTE)));
    for (let i = 0; i < 5; i++) await h.tick();
    expect((await h.api('GET', '/v1/schedules/lunch')).body).toMatchObject({ runs: 3, lastRunAt: at(T0 + 5 * MINUTE) });
    expect(await h.ticksOf('lunch')).toEqual([1, 4, 5].map((m) => T0 + m * MINUTE));
  });
}

describe('schedule ends on SQLite', () => endsSuite({ storage: () => ({}) }));

describePostgres('schedule ends on PostgreSQL', () =>
  endsSuite({
    storage: () => {
      const schema = freshSchema();
      cleanups.push(() => dropSchema(schema));
      return { postgres: postgresUrl, postgresSchema: schema, postgresPoolSize: 4 };
    },
  }),
);

describe('schedules with exclusions and solar events, through the API', () => {
  it('lists the next runs of a solar schedule: New York sunsets across the change to daylight saving', async () => {
    // timeanddate.com, quoted by FOX 5 New York: sunset 17:55 EST on 8 March 2025, 18:56 EDT on 9 March.
    const clock = new ManualClock(Date.parse('2025-03-08T12:00:00-05:00'));
    const sluice = await startSluice({ network: { allowPrivate: true } }, { clock });
    cleanups.push(() => sluice.stop());
    const solar = { event: 'sunset', latitude: 40.7128, longitude: -74.006 };
    const created = await sluice.api('POST', '/v1/schedules', { name: 'dusk-lights', solar, timezone: 'America/New_York', message: { url: 'http://127.0.0.1:9/' } });
    expect(created.status).toBe(201);
    expect(created.body.solar).toEqual({ ...solar, offsetMinutes: 0 });
    const [first, second] = (created.body.nextRuns as string[]).map(Date.parse);
    expect(Math.abs(first! - Date.parse('2025-03-08T17:55:00-05:00'))).toBeLessThanOrEqual(60_000);
    expect(Math.abs(second! - Date.parse('2025-03-09T18:56:00-04:00'))).toBeLessThanOrEqual(60_000);
    expect(created.body.nextRunAt).toBe(created.body.nextRuns[0]);
    // A PATCH to a cron replaces the solar timing.
    const patched = await sluice.api('PATCH', '/v1/schedules/dusk-lights', { cron: '0 18 * * *' });
    expect(patched.body.solar).toBeUndefined();
    expect(patched.body.cron).toBe('0 18 * * *');
  });

  it('a sunrise schedule in the polar night runs next when the sun is back (Longyearbyen, 16 February 2019)', async () => {
    // Icepeople, 26 October 2018: "The next official sunrise is Feb. 16, 2019."
    const clock = new ManualClock(Date.parse('2018-12-01T00:00:00Z'));
    const sluice = await startSluice({ network: { allowPrivate: true } }, { clock });
    cleanups.push(() => sluice.stop());
    const solar = { event: 'sunrise', latitude: 78.2232, longitude: 15.6267 };
    const created = await sluice.api('POST', '/v1/schedules', { name: 'sun-back', solar, timezone: 'Arctic/Longyearbyen', message: { url: 'http://127.0.0.1:9/' } });
    expect(created.body.state).toBe('active');
    expect(new Intl.DateTimeFormat('en-CA', { timeZone: 'Arctic/Longyearbyen' }).format(Date.parse(created.body.nextRunAt))).toBe('2019-02-16');
  });

  it('refuses bad exclusions, ends and solar settings with 400 naming the field, and stores nothing', async () => {
    const sluice = await startSluice({ network: { allowPrivate: true } });
    cleanups.push(() => sluice.stop());
    const message = { url: 'http://127.0.0.1:9/' };
    const solar = { event: 'sunrise', latitude: 52.52, longitude: 13.4 };
    const cases: [Record<string, unknown>, string][] = [
      [{ cron: '0 9 * * *', exclude: { dates: ['2026-13-01'] } }, 'exclude.dates.0'],
      [{ cron: '0 9 * * *', exclude: { weekdays: ['sa'] } }, 'exclude.weekdays.0'],
      [{ cron: '0 9 * * *', exclude: { times: [{ from: '12:00', to: '1330' }] } }, 'exclude.times.0.to'],
      [{ cron: '0 9 * * *', exclude: { times: [{ from: '25:00', to: '13:30' }] } }, 'exclude.times.0.from'],
      [{ cron: '0 9 * * *', startAt: '2026-05-01' }, 'startAt'],
      [{ cron: '0 9 * * *', endAt: 'next week' }, 'endAt'],
      [{ cron: '0 9 * * *', startAt: '2026-05-02T00:00:00Z', endAt: '2026-05-01T00:00:00Z' }, 'endAt'],
      [{ every: '1m', maxRuns: -1 }, 'maxRuns'],
      [{ cron: '0 9 * * *', solar }, 'solar'],
      [{ solar: { ...solar, latitude: 90.5 } }, 'solar.latitude'],
      [{ solar: { ...solar, longitude: 'east' } }, 'solar.longitude'],
      [{ solar: { ...solar, offsetMinutes: -721 } }, 'solar.offsetMinutes'],
      [{ solar: { ...solar, event: 'noon' } }, 'solar.event'],
    ];
    for (const [fields, field] of cases) {
      const response = await sluice.api('POST', '/v1/schedules', { name: 'bad', message, ...fields });
      expect(response.status, JSON.stringify(fields)).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body.errors[0].field, JSON.stringify(fields)).toBe(field);
      expect(response.body.detail).toContain(field);
    }
    expect((await sluice.api('GET', '/v1/schedules')).body.schedules).toEqual([]);
    // PATCH too: a solar timing beside a cron in one patch is refused, naming solar.
    await sluice.api('POST', '/v1/schedules', { name: 'ok', cron: '0 9 * * *', message });
    const both = await sluice.api('PATCH', '/v1/schedules/ok', { cron: '0 10 * * *', solar });
    expect(both.status).toBe(400);
    expect(both.body.errors[0].field).toBe('solar');
    expect((await sluice.api('GET', '/v1/schedules/ok')).body.cron).toBe('0 9 * * *');
  });
});
