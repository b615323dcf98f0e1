import { existsSync, mkdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** In CI a missing browser is a failure, never a silent skip. */
const runBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';

let sluice: TestSluice | undefined;
let browser: Browser | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await browser?.close();
  await sluice?.stop();
  await sink?.stop();
  browser = undefined;
  sluice = undefined;
  sink = undefined;
});

describe('the dashboard schedule view', () => {
  it.runIf(runBrowser)('shows each schedule with its timing, exclusions, end, runs and state', { timeout: 90_000 }, async () => {
    sink = await new Sink(() => ({ status: 200 })).start();
    sluice = await startSluice({ network: { allowPrivate: true } });
    const message = { url: `${sink.origin}/hook` };
    const make = async (body: Record<string, unknown>) => expect((await sluice!.api('POST', '/v1/schedules', { message, ...body })).status).toBe(201);
    await make({
      name: 'weekday-report',
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      exclude: { weekdays: ['sun', 'sat'], dates: ['2099-12-25'], times: [{ from: '12:00', to: '13:30' }] },
      endAt: '2099-12-31T00:00:00Z',
      maxRuns: 100,
    });
    await make({ name: 'porch-lights', solar: { event: 'sunset', latitude: 52.52, longitude: 13.405, offsetMinutes: 30 }, timezone: 'Europe/Berlin' });
    await make({ name: 'twice', every: '1s', maxRuns: 2 });
    await eventually(async () => (await sluice!.api('GET', '/v1/schedules/twice')).body.state === 'completed', 'the two runs');

    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${sluice.url}/dashboard`);
    await page.fill('#key-input', sluice.key);
    await page.click('#connect');

    const cells = (name: string) => page.locator(`#schedules-table tr[data-schedule="${name}"] td`).allTextContents();
    await expect.poll(async () => (await cells('weekday-report')).length, { timeout: 15_000 }).toBe(10);
    const report = await cells('weekday-report');
    expect(report.slice(0, 7)).toEqual([
      'weekday-report',
      'default',
      'cron 0 9 * * 1-5',
      'Europe/Berlin',
      'sat, sun · 2099-12-25 · 12:00–13:30',
      'until 2099-12-31T00:00:00Z · 100 runs',
      '0 / 100',
    ]);
    expect(report[7]).toBe('—');
    expect(report[8]).toMatch(/^in /);
    expect(report[9]).toBe('active');
    const porch = await cells('porch-lights');
    expect(porch.slice(2, 7)).toEqual(['sunset +30 min at 52.52, 13.405', 'Europe/Berlin', '—', '—', '0']);
    expect(porch[9]).toBe('active');
    const twice = await cells('twice');
    expect(twice.slice(2, 3)).toEqual(['every 1s']);
    expect(twice.slice(5, 7)).toEqual(['2 runs', '2 / 2']);
    expect(twice[7]).toMatch(/ ago$/);
    expect(twice[8]).toBe('—');
    expect(twice[9]).toBe('completed');
    expect(await page.locator('#schedules-note').textContent()).toBe('3 schedules, 1 completed');
    expect(problems).toEqual([]);
    mkdirSync('test-results', { recursive: true });
    await page.locator('#schedules-table').screenshot({ path: 'test-results/dashboard-schedules.png' });
  });
});
