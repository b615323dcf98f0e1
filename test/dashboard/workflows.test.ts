import { existsSync, mkdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * The dashboard's Workflows view in a real Chromium against a real node and sink: the workflows, a
 * workflow's runs (live, by state, page by page), a run's steps with what each answered — a hostile
 * answer shown as text — and cancelling a running run after asking.
 */

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** In CI a missing browser is a failure, never a silent skip. */
const runBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';

const HOSTILE_BODY = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const HOSTILE_HEADER = '<img src=x onerror=window.__pwned=3>';
/** One page of runs in the dashboard is 20: one more makes a second page. */
const SLOW_RUNS = 21;

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

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set SLUICE_CHROMIUM`);
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
}

async function openDashboard(problems: string[]): Promise<Page> {
  browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${sluice!.url}/dashboard`);
  await page.fill('#key-input', sluice!.key);
  await page.click('#connect');
  return page;
}

const rowsOf = (page: Page, table: string) => page.locator(`#${table} tbody tr:not(.empty)`);
const stepCells = (page: Page, seq: number) => page.locator(`#run-steps tr[data-seq="${seq}"] td`).allTextContents();

describe('the dashboard workflow view', () => {
  it.runIf(runBrowser)("shows a run's steps with their states and answers as text, live, and cancels a running run", { timeout: 120_000 }, async () => {
    sink = await new Sink((req) =>
      req.url === '/create'
        ? { status: 201, headers: { 'content-type': 'text/html', 'x-request': 'r-1', 'x-evil': HOSTILE_HEADER }, body: HOSTILE_BODY }
        : { status: 200, body: 'fine' },
    ).start();
    sluice = await startSluice({ network: { allowPrivate: true } });
    const put = async (name: string, steps: unknown[]) => expect((await sluice!.api('PUT', `/v1/workflows/${name}`, { steps })).status).toBe(201);
    await put('onboard', [
      { name: 'create', request: { url: `${sink.origin}/create` } },
      { name: 'upsell', when: { path: 'steps.create.response.status', op: 'eq', value: 500 }, request: { url: `${sink.origin}/upsell` } },
      { name: 'done', request: { url: `${sink.origin}/done` } },
    ]);
    await put('slow', [{ name: 'later', delayMs: 3_600_000, request: { url: `${sink.origin}/later` } }]);
    const slow: string[] = [];
    for (let i = 0; i < SLOW_RUNS; i += 1) slow.push((await sluice.api('POST', '/v1/workflows/slow/runs', {})).body.id);

    const problems: string[] = [];
    const page = await openDashboard(problems);
    await page.locator('#workflows-table tr[data-workflow="onboard"]').waitFor({ timeout: 15_000 });
    expect((await page.locator('#workflows-table tr[data-workflow="onboard"] td').allTextContents()).slice(0, 4)).toEqual(['onboard', 'default', '3', "the tenant's outbound"]);
    await expect.poll(() => page.locator('#conn').textContent(), { timeout: 15_000 }).toContain('live');

    // The workflow is open before its run starts: the run comes in on the stream.
    await page.click('#workflows-table tr[data-workflow="onboard"] button');
    await expect.poll(() => page.locator('#runs-table tbody').textContent(), { timeout: 10_000 }).toBe('No runs yet.');
    const id = (await sluice.api('POST', '/v1/workflows/onboard/runs', {})).body.id as string;
    const runRow = page.locator(`#runs-table tr[data-run="${id}"]`);
    await runRow.waitFor({ timeout: 15_000 });
    await eventually(async () => (await sluice!.api('GET', `/v1/workflows/runs/${id}`)).body.state === 'succeeded', 'the run to succeed');
    await expect.poll(() => runRow.locator('.badge').textContent(), { timeout: 15_000 }).toBe('succeeded');

    await runRow.locator('button').click();
    await expect.poll(() => page.locator('#run-steps tbody tr').count(), { timeout: 10_000 }).toBe(3);
    const run = (await sluice.api('GET', `/v1/workflows/runs/${id}`)).body;
    const create = await stepCells(page, 0);
    expect(create.slice(0, 7)).toEqual(['0', 'create', 'succeeded', '1', run.steps[0].messageId, '—', '201']);
    expect((await stepCells(page, 1)).slice(0, 7)).toEqual(['1', 'upsell', 'skipped', '0', '—', '—', '—']);
    expect((await stepCells(page, 2)).slice(0, 7)).toEqual(['2', 'done', 'succeeded', '1', run.steps[2].messageId, '—', '200']);
    expect(await page.locator('#run-title').textContent()).toBe(`Run ${id} of onboard`);
    expect(await page.isHidden('#run-cancel')).toBe(true);

    // What the step's target answered, every part of it as text: nothing became markup, nothing ran.
    const answer = page.locator('#run-responses .step-response[data-seq="0"]');
    expect(await answer.locator('.response-status').textContent()).toBe('201');
    expect(await answer.locator('.response-body').textContent()).toBe(HOSTILE_BODY);
    expect(await answer.locator('.response-headers').textContent()).toContain(HOSTILE_HEADER);
    expect(await answer.locator('.response-headers').textContent()).toContain('r-1');
    expect(await page.locator('#run-responses .step-response[data-seq="2"] .response-body').textContent()).toBe('fine');
    expect(await page.locator('#run-detail img, #run-detail script').count()).toBe(0);
    await page.waitForTimeout(500);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    mkdirSync('test-results', { recursive: true });
    await page.locator('#run-detail').screenshot({ path: 'test-results/dashboard-workflow-run.png' });

    // A message id opens the step's message in the inspector.
    await page.click(`#run-steps tr[data-seq="0"] button`);
    await expect.poll(() => page.locator('#inspect-body').textContent(), { timeout: 10_000 }).toBe('(empty)');
    expect(await page.inputValue('#inspect-id')).toBe(run.steps[0].messageId);

    // Another workflow's runs: newest first, twenty a page, the cursor to the next.
    await page.click('#workflows-table tr[data-workflow="slow"] button');
    await expect.poll(() => rowsOf(page, 'runs-table').count(), { timeout: 10_000 }).toBe(20);
    expect(await rowsOf(page, 'runs-table').first().getAttribute('data-run')).toBe(slow.at(-1));
    expect(await page.isDisabled('#runs-newer')).toBe(true);
    await page.click('#runs-older');
    await expect.poll(() => rowsOf(page, 'runs-table').count(), { timeout: 10_000 }).toBe(1);
    expect(await rowsOf(page, 'runs-table').first().getAttribute('data-run')).toBe(slow[0]);
    expect(await page.isDisabled('#runs-older')).toBe(true);
    expect(await page.locator('#runs-page').textContent()).toBe('page 2');
    await page.click('#runs-newer');
    await expect.poll(() => rowsOf(page, 'runs-table').count(), { timeout: 10_000 }).toBe(20);

    // Cancelling asks first, then the run and its waiting step show cancelled.
    const newest = slow.at(-1)!;
    await page.click(`#runs-table tr[data-run="${newest}"] button`);
    await expect.poll(() => stepCells(page, 0), { timeout: 10_000 }).toEqual(expect.arrayContaining(['later', 'pending']));
    await page.click('#run-cancel');
    expect(await page.locator('#run-cancel-question').textContent()).toContain(`Cancel run ${newest}?`);
    expect((await sluice.api('GET', `/v1/workflows/runs/${newest}`)).body.state).toBe('running');
    await page.click('#run-cancel-yes');
    await expect.poll(async () => (await stepCells(page, 0))[2], { timeout: 10_000 }).toBe('cancelled');
    expect(await page.locator('#run-meta .badge').textContent()).toBe('cancelled');
    expect(await page.isHidden('#run-cancel')).toBe(true);
    expect((await sluice.api('GET', `/v1/workflows/runs/${newest}`)).body.state).toBe('cancelled');

    // The state filter: the cancelled one alone, then the twenty still running.
    await page.selectOption('#runs-state', 'cancelled');
    await expect.poll(async () => rowsOf(page, 'runs-table').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-run'))), { timeout: 10_000 }).toEqual([newest]);
    await page.selectOption('#runs-state', 'running');
    await expect.poll(() => rowsOf(page, 'runs-table').count(), { timeout: 10_000 }).toBe(20);
    expect(await page.isDisabled('#runs-older')).toBe(true);
    expect(sink.arrivals.filter((arrival) => arrival.url === '/later')).toHaveLength(0);
    expect(problems).toEqual([]);
  });
});
