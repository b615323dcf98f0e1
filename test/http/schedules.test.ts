import { afterEach, describe, expect, it } from 'vitest';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
  sluice = undefined;
  sink = undefined;
});

async function setup(config: Record<string, unknown> = {}) {
  sink = await new Sink(() => ({ status: 200 })).start();
  sluice = await startSluice({ network: { allowPrivate: true }, ...config });
  return { sink, sluice };
}

describe('/v1/schedules', () => {
  it('creates a cron schedule in a time zone and lists its next 5 runs', async () => {
    const { sink, sluice } = await setup();
    const created = await sluice.api('POST', '/v1/schedules', {
      name: 'weekday-morning',
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      message: { url: `${sink.origin}/report`, body: { kind: 'daily' } },
    });
    expect(created.status).toBe(201);
    expect(created.body.nextRuns).toHaveLength(5);
    for (const run of created.body.nextRuns as string[]) {
      const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', weekday: 'short', hour12: false }).format(new Date(run));
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    }
    const got = await sluice.api('GET', '/v1/schedules/weekday-morning');
    expect(got.body.nextRuns).toEqual(created.body.nextRuns);
    expect((await sluice.api('GET', '/v1/schedules')).body.schedules.map((s: { name: string }) => s.name)).toEqual(['weekday-morning']);
    expect((await sluice.api('POST', '/v1/schedules', { name: 'weekday-morning', every: '1m', message: { url: `${sink.origin}/` } })).status).toBe(409);
  });

  it('fires an every-schedule, pauses, resumes and deletes it', async () => {
    const { sink, sluice } = await setup();
    // The ticks it made, by the time each was due: what is sent is judged by what Sluice decided, not
    // by when a loaded machine got round to delivering it.
    const ticks = async () =>
      ((await sluice.api('GET', '/v1/messages?limit=1000')).body.messages as { origin: string; deliverAt: string }[])
        .filter((m) => m.origin === 'schedule:tick')
        .map((m) => Date.parse(m.deliverAt))
        .sort((a, b) => a - b);
    const oneSecondApart = (times: number[]) => times.slice(1).every((at, i) => at - times[i]! === 1_000);
    await sluice.api('POST', '/v1/schedules', { name: 'tick', every: '1s', message: { url: `${sink.origin}/tick` } });
    await eventually(() => sink.arrivals.length >= 2, 'two ticks delivered');
    expect(sink.arrivals[0]!.headers['sluice-message-id']).toBeDefined();
    const paused = await sluice.api('PATCH', '/v1/schedules/tick', { paused: true });
    expect(paused.body).toMatchObject({ paused: true, nextRunAt: null });
    const beforePause = await ticks();
    expect(oneSecondApart(beforePause)).toBe(true);
    // Paused for 2.5 s: at most the tick that was being fired as the pause came, not two or more.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const whilePaused = await ticks();
    expect(whilePaused.length).toBeLessThanOrEqual(beforePause.length + 1);
    await sluice.api('PATCH', '/v1/schedules/tick', { paused: false });
    const resumed = await eventually(async () => {
      const after = (await ticks()).slice(whilePaused.length);
      return after.length >= 2 ? after : undefined;
    }, 'ticks after resume');
    expect(oneSecondApart(resumed)).toBe(true);
    expect((await sluice.api('DELETE', '/v1/schedules/tick')).status).toBe(204);
    expect((await sluice.api('GET', '/v1/schedules/tick')).status).toBe(404);
  });

  it('refuses a bad cron, an unknown time zone and an interval under 1 s, naming the field', async () => {
    const { sink, sluice } = await setup();
    const message = { url: `${sink.origin}/` };
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'a', cron: '61 * * * *', message }, 'cron'],
      [{ name: 'b', cron: 'every day', message }, 'cron'],
      [{ name: 'c', cron: '0 9 * * *', timezone: 'Mars/Olympus', message }, 'timezone'],
      [{ name: 'd', every: '500ms', message }, 'every'],
      [{ name: 'e', every: 'often', message }, 'every'],
      [{ name: 'f', cron: '0 9 * * *', every: '1m', message }, ''],
      [{ name: 'g', every: '1m', message: { url: 'http://169.254.169.254/' } }, 'url'],
      [{ name: 'h', every: '1m', message: { url: `${sink.origin}/`, queue: 'nope' } }, 'queue'],
      [{ name: '../x', every: '1m', message }, 'name'],
    ];
    for (const [body, field] of cases) {
      const response = await sluice.api('POST', '/v1/schedules', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.detail, JSON.stringify(body)).toContain(field);
    }
    expect((await sluice.api('GET', '/v1/schedules')).body.schedules).toEqual([]);
  });

  it('loads schedules declared in sluice.yaml', async () => {
    sink = await new Sink(() => ({ status: 200 })).start();
    sluice = await startSluice({
      network: { allowPrivate: true },
      schedules: { nightly: { cron: '0 2 * * *', timezone: 'America/New_York', message: { url: `${sink.origin}/nightly`, body: { kind: 'nightly' } } } },
    });
    const got = await sluice.api('GET', '/v1/schedules/nightly');
    expect(got.status).toBe(200);
    expect(got.body.timezone).toBe('America/New_York');
    const hour = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hour12: false }).format(new Date(got.body.nextRunAt));
    expect(Number(hour)).toBe(2);
  });
});
