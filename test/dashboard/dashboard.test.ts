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
const sinks: Sink[] = [];
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await sluice?.stop();
  sluice = undefined;
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set SLUICE_CHROMIUM`);
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
  } catch (error) {
    throw new Error(`Chromium at ${CHROMIUM} could not start: ${(error as Error).message}`, { cause: error });
  }
}

const HOSTILE_BODY = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const HOSTILE_HEADER = '<img src=x onerror=window.__pwned=3>';

describe('GET /dashboard', () => {
  it('serves the page and its assets with a strict CSP and nosniff', async () => {
    sluice = await startSluice();
    for (const path of ['/dashboard', '/dashboard/app.js', '/dashboard/views.js', '/dashboard/app.css', '/dashboard/uplot.js', '/dashboard/uplot.css']) {
      const response = await fetch(`${sluice.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await response.text()).length).toBeGreaterThan(100);
    }
    const html = await (await fetch(`${sluice.url}/dashboard`)).text();
    expect(html).not.toMatch(/<script>(?!<)/);
    expect(html).not.toMatch(/ on[a-z]+=/);
    // The API reference is one click away, and it is there.
    expect(html).toContain('href="/docs"');
    expect((await fetch(`${sluice.url}/docs`)).status).toBe(200);
  });

  it.runIf(runBrowser)('shows the throttled domain live and renders a hostile message as text only', { timeout: 90_000 }, async () => {
    const throttled = await new Sink(() => ({ status: 429, headers: { 'retry-after': '300' } }), '127.0.0.2').start();
    const fine = await new Sink(() => ({ status: 200, delayMs: 15 }), '127.0.0.3').start();
    sinks.push(throttled, fine);
    sluice = await startSluice({ network: { allowPrivate: true }, limits: { domains: { [throttled.domain]: { concurrency: 3, ratePerSecond: 20, burst: 5 } } } });
    const hostile = await sluice.api('POST', '/v1/messages', { url: `${throttled.origin}/evil`, body: HOSTILE_BODY, headers: { 'x-evil': HOSTILE_HEADER } });
    expect(hostile.status).toBe(201);
    const batch = Array.from({ length: 10 }, (_, i) => ({ url: `${fine.origin}/ok/${i}`, body: { i } }));
    expect((await sluice.api('POST', '/v1/messages/batch', { messages: batch })).status).toBe(201);
    await eventually(() => throttled.arrivals.length >= 1 && fine.arrivals.length >= 10, 'deliveries');

    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const response = await page.goto(`${sluice.url}/dashboard`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
    await page.fill('#key-input', sluice.key);
    await page.click('#connect');

    const row = page.locator(`#domains-table tr[data-domain="${throttled.domain}"]`);
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 15_000 }).toBe('paused');
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe(throttled.domain);
    expect(cells[3]).toMatch(/^[12] \/ 3$/);
    expect(cells[4]).toMatch(/\/ 20$/);
    expect(Number(cells[7])).toBeGreaterThanOrEqual(1);
    expect(cells[10]).toMatch(/^in /);
    await expect.poll(() => page.locator('#conn').textContent(), { timeout: 10_000 }).toContain('live');
    await expect.poll(() => page.locator('#event-log .badge-ev-throttled').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.evaluate(() => sessionStorage.getItem('sluice.key'))).toBe(sluice.key);
    expect(page.url()).not.toContain(sluice.key);

    await page.fill('#inspect-id', hostile.body.id);
    await page.click('#inspect-form button');
    await page.locator('#inspector').waitFor({ state: 'visible' });
    expect(await page.locator('#inspect-body').textContent()).toBe(HOSTILE_BODY);
    expect(await page.locator('#inspect-headers').textContent()).toContain(HOSTILE_HEADER);
    await expect.poll(() => page.locator('#inspect-attempts tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#inspect-attempts tbody').textContent()).toContain('429');
    // nothing from the payload became markup, and nothing ran
    expect(await page.locator('#inspector img, #inspector script').count()).toBe(0);
    await page.waitForTimeout(500);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();

    // let the charts gather a few seconds of history, then keep a picture of the page
    await page.waitForTimeout(4_000);
    expect(await page.locator('#chart-rate canvas').count()).toBe(1);
    expect(await page.locator('#inflight-charts canvas').count()).toBeGreaterThan(0);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
    expect(problems.filter((text) => /Content Security Policy|Refused/i.test(text))).toEqual([]);
    expect(problems.filter((text) => !/Failed to load resource/.test(text))).toEqual([]);
  });

  it.runIf(runBrowser)("shows each source's routes with this node's counts, its fallback and the file's sources, as text only", { timeout: 90_000 }, async () => {
    sluice = await startSluice({ queues: { billing: { mode: 'pull' }, inbox: { mode: 'pull' } }, sources: { filed: { queue: 'inbox' } } });
    const made = await sluice.api('PUT', '/v1/sources/stripe', {
      routes: [
        { name: 'invoices', queue: 'billing', when: { path: 'body.type', op: 'prefix', value: 'invoice.' } },
        { name: 'odd', queue: 'billing', when: { all: [{ path: 'headers.x-odd', op: 'exists' }, { not: { path: 'body.type', op: 'eq', value: HOSTILE_HEADER } }] } },
      ],
      fallback: 'inbox',
    });
    expect(made.status).toBe(201);
    for (const type of ['invoice.paid', 'invoice.sent', 'charge.failed']) {
      expect((await fetch(`${sluice.url}/in/stripe`, { method: 'POST', body: JSON.stringify({ type }) })).status).toBe(202);
    }

    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${sluice.url}/dashboard`);
    await page.fill('#key-input', sluice.key);
    await page.click('#connect');

    const cells = (route: string) => page.locator(`#sources-table tr[data-source="stripe"][data-route="${route}"] td`).allTextContents();
    await expect.poll(async () => (await cells('invoices')).slice(-4), { timeout: 15_000 }).toEqual(['invoices', 'billing', 'body.type prefix "invoice."', '2']);
    expect(await cells('odd')).toEqual(['odd', 'billing', `(headers.x-odd exists and not body.type eq ${JSON.stringify(HOSTILE_HEADER)})`, '0']);
    expect(await cells('(fallback)')).toEqual(['fallback', 'inbox', 'no route matched', '1']);
    expect((await page.locator('#sources-table tr[data-source="filed"] td').allTextContents()).map((text) => text.trim())).toEqual(['filedsluice.yaml', 'default', '—', 'inbox', 'every request', '—']);
    expect(await page.locator('#sources-table img, #sources-table script').count()).toBe(0);
    expect(problems).toEqual([]);
    mkdirSync('test-results', { recursive: true });
    await page.locator('#sources-table').screenshot({ path: 'test-results/dashboard-sources.png' });
  });

  it.runIf(runBrowser)('lists dead letters and replays the selected one after asking', { timeout: 90_000 }, async () => {
    let status = 404;
    const target = await new Sink(() => ({ status })).start();
    sinks.push(target);
    sluice = await startSluice({ network: { allowPrivate: true } });
    const created = await sluice.api('POST', '/v1/messages/batch', { messages: [{ url: `${target.origin}/one` }, { url: `${target.origin}/two` }] });
    const [one, two] = created.body.messages.map((m: { id: string }) => m.id) as string[];
    await eventually(async () => (await sluice!.api('GET', '/v1/queues/outbound/dead')).body.messages.length === 2, 'two dead letters');
    status = 200;

    browser = await launch();
    const page = await browser.newPage();
    await page.goto(`${sluice.url}/dashboard`);
    await page.fill('#key-input', sluice.key);
    await page.click('#connect');
    await expect.poll(() => page.locator('#dead-queue option').allTextContents(), { timeout: 15_000 }).toContain('outbound');
    await page.selectOption('#dead-queue', 'outbound');
    await page.click('#dead-form button[type="submit"]');
    await expect.poll(() => page.locator('#dead-table tbody .dead-pick').count(), { timeout: 10_000 }).toBe(2);
    expect(await page.isDisabled('#replay-selected')).toBe(true);
    await page.check(`#dead-table .dead-pick[value="${one}"]`);
    await page.click('#replay-selected');
    // nothing happens before the question is answered
    expect(await page.locator('#replay-question').textContent()).toContain('Replay 1 selected');
    expect(target.arrivals.filter((a) => a.url === '/one')).toHaveLength(1);
    await page.click('#replay-yes');
    await expect.poll(() => page.locator('#dead-status').textContent(), { timeout: 10_000 }).toContain('Replayed 1 message(s)');
    await eventually(async () => (await sluice!.api('GET', `/v1/messages/${one}`)).body.state === 'delivered', 'the replayed one delivered');
    expect((await sluice.api('GET', `/v1/messages/${two}`)).body.state).toBe('dead');
    await expect.poll(() => page.locator('#dead-table tbody .dead-pick').count(), { timeout: 10_000 }).toBe(1);
  });
});
