import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startSluice, type TestSluice } from '../support/sluice.js';

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** In CI a missing browser is a failure, never a silent skip. */
const runBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';
const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

let sluice: TestSluice | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await sluice?.stop();
  sluice = undefined;
});

/** GET with the path sent exactly as written: fetch() would resolve the dots before sending. */
function rawGet(url: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /docs', () => {
  it('answers the page under a strict Content-Security-Policy, with no inline script and nothing from another origin', async () => {
    sluice = await startSluice();
    const response = await fetch(`${sluice.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = response.headers.get('content-security-policy') ?? '';
    const directives = new Map(csp.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-(eval|inline)/);
    const html = await response.text();
    expect(html).toContain('<script src="/docs/init.js" defer></script>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/ on[a-z]+=|style=/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('serves its files from this server with their content types', async () => {
    sluice = await startSluice();
    const files: [string, string, string | undefined][] = [
      ['/docs/init.js', 'text/javascript; charset=utf-8', undefined],
      ['/docs/swagger-ui-bundle.js', 'text/javascript; charset=utf-8', 'swagger-ui-bundle.js'],
      ['/docs/swagger-ui.css', 'text/css; charset=utf-8', 'swagger-ui.css'],
      ['/docs/favicon.png', 'image/png', 'favicon-32x32.png'],
    ];
    for (const [path, type, packageFile] of files) {
      const response = await fetch(`${sluice.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toBe(type);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('content-security-policy'), path).toContain("script-src 'self'");
      const bytes = Buffer.from(await response.arrayBuffer());
      if (packageFile) expect(bytes.equals(readFileSync(join(SWAGGER_UI_DIR, packageFile))), path).toBe(true);
      else expect(bytes.toString()).toContain("url: '/openapi.json'");
    }
    const head = await fetch(`${sluice.url}/docs/swagger-ui.css`, { method: 'HEAD' });
    expect([head.status, (await head.text()).length]).toEqual([200, 0]);
    const post = await fetch(`${sluice.url}/docs/init.js`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });

  it('refuses path tricks: only the listed files are served', async () => {
    sluice = await startSluice();
    const tricks = [
      '/docs/../../package.json',
      '/docs/../package.json',
      '/docs/%2e%2e/%2e%2e/package.json',
      '/docs/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/docs/..%2f..%2fpackage.json',
      '/docs/swagger-ui.css/../../../package.json',
      '/docs/./swagger-ui.css',
      '/docs//swagger-ui.css',
      '/docs/swagger-ui.css%00.js',
      '/docs/package.json',
      '/docs/index.html',
      '/docs/swagger-initializer.js',
      '/docs/swagger-ui-bundle.js.map',
      '/docs/%2e%2e/src/http/routes/docs.ts',
    ];
    for (const path of tricks) {
      const answer = await rawGet(sluice.url, path);
      expect([answer.status, answer.type], path).toEqual([404, 'application/problem+json; charset=utf-8']);
      expect(answer.body, path).not.toContain('"dependencies"');
    }
  });

  it.runIf(runBrowser)('renders every route in Chromium without a CSP violation, and "Try it out" reaches the API', { timeout: 90_000 }, async () => {
    sluice = await startSluice();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        const found = ((window as unknown as { __violations?: string[] }).__violations ??= []);
        found.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
      });
    });
    await page.goto(`${sluice.url}/docs`);
    await page.locator('.opblock-summary-path').first().waitFor({ timeout: 20_000 });
    const shown = await page.locator('.opblock-summary-path').allTextContents();
    const document = (await (await fetch(`${sluice.url}/openapi.json`)).json()) as { paths: Record<string, object> };
    const expected = Object.entries(document.paths).flatMap(([path, byMethod]) => Object.keys(byMethod).map(() => path));
    expect(shown.map((text) => text.replace(/\u200b/g, '')).sort()).toEqual(expected.sort());

    // "Try it out" on GET /v1/queues: without a key, then with the admin key given under Authorize.
    const listQueues = page.locator('#operations-queues-getQueues');
    await listQueues.locator('.opblock-summary').click();
    await listQueues.locator('button.try-out__btn').click();
    await listQueues.locator('button.execute').click();
    await expect.poll(() => listQueues.locator('.live-responses-table tbody td.response-col_status').first().textContent(), { timeout: 10_000 }).toContain('401');
    await page.locator('.auth-wrapper button.authorize').click();
    await page.locator('.modal-ux input').first().fill(sluice.key);
    await page.locator('.modal-ux button.authorize').first().click();
    await page.locator('.modal-ux button.btn-done').first().click();
    await listQueues.locator('button.execute').click();
    await expect.poll(() => listQueues.locator('.live-responses-table tbody td.response-col_status').first().textContent(), { timeout: 10_000 }).toContain('200');

    expect(await page.evaluate(() => (window as unknown as { __violations?: string[] }).__violations ?? [])).toEqual([]);
    // The 401 of the first "Try it out" is logged by the browser as a failed load; nothing else may be.
    expect(problems.filter((problem) => !/status of 401/.test(problem))).toEqual([]);
  });
});
