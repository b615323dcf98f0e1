import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildStats, recentEvents } from '../../observe/stats.js';
import type { ApiDeps } from '../deps.js';
import { requireAdmin } from '../auth.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';
import type { PlainRoute } from '../server.js';

/** Events included in a GET /v1/stats answer (the stream sends them as they happen instead). */
const RECENT_EVENTS_IN_STATS = 50;

/**
 * The dashboard page may run only its own files: no inline script or style, no other origin, not
 * framed. Stored payloads are rendered as text by app.js; this is the second line of defence.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** GET /v1/stats and GET /v1/stats/stream. Authenticated by the router like every /v1 route. */
export function registerObserveRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/stats', async (ctx) => {
    app.queues.latestBacklog(); // ask for the per-domain backlog, so this refresh includes it
    const counts = await app.queues.refreshCounts();
    const snapshot = buildStats(app, ctx.principal, counts, app.clock.now());
    snapshot.recentEvents = recentEvents(app, ctx.principal, RECENT_EVENTS_IN_STATS);
    return { status: 200, body: snapshot, headers: { 'cache-control': 'no-store' } };
  });
  router.add('GET', '/v1/stats/stream', async (ctx) => {
    app.telemetry.streams.open(ctx.res, ctx.principal);
    return undefined;
  });
}

/**
 * Routes outside /v1: `/metrics` (Prometheus text; needs the admin key as a Bearer token, because
 * queue and destination names are not public) and the dashboard with its assets (public: the page
 * holds no data; it asks for a key and calls the API with it).
 */
export function observePlainRoutes(): [string, PlainRoute][] {
  const assets = new DashboardAssets();
  const routes: [string, PlainRoute][] = [['/metrics', metricsRoute]];
  for (const [path, asset] of assets.routes()) routes.push([path, (_app, req, res) => serveAsset(req, res, assets, asset)]);
  return routes;
}

const metricsRoute: PlainRoute = async (app, req, res) => {
  allowGet(req);
  requireAdmin(app.auth.authenticate(req));
  const text = await app.telemetry.metrics.render();
  res.writeHead(200, { 'content-type': app.telemetry.metrics.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

function allowGet(req: IncomingMessage): void {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  throw new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', 'use GET', { headers: { allow: 'GET, HEAD' } });
}

// ── dashboard assets ──────────────────────────────────────────

interface Asset {
  /** Where the file is: our own dashboard folder, or uPlot's dist folder. */
  from: 'dashboard' | 'uplot';
  file: string;
  type: string;
}

const ASSETS: Record<string, Asset> = {
  '/dashboard': { from: 'dashboard', file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/': { from: 'dashboard', file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { from: 'dashboard', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { from: 'dashboard', file: 'app.css', type: 'text/css; charset=utf-8' },
  '/dashboard/uplot.js': { from: 'uplot', file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/uplot.css': { from: 'uplot', file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};

/**
 * The dashboard's static files, read once on first use and kept in memory. There is no build step:
 * our files live in src/dashboard/ (tsc copies nothing), uPlot's in node_modules/uplot/dist.
 */
export class DashboardAssets {
  private readonly cache = new Map<string, Buffer>();
  private dashboardDir: string | undefined;

  routes(): [string, Asset][] {
    return Object.entries(ASSETS);
  }

  read(asset: Asset): Buffer {
    const key = `${asset.from}/${asset.file}`;
    let content = this.cache.get(key);
    if (!content) {
      content = readFileSync(join(this.directory(asset.from), asset.file));
      this.cache.set(key, content);
    }
    return content;
  }

  private directory(from: Asset['from']): string {
    if (from === 'uplot') return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
    this.dashboardDir ??= findDashboardDir(dirname(fileURLToPath(import.meta.url)));
    return this.dashboardDir;
  }
}

/**
 * src/dashboard/ of the package this file belongs to. Walks up from this module (src/http/routes/
 * under vitest, dist/http/routes/ when built) to the folder holding package.json, so it works from
 * either tree and wherever the package is installed.
 */
export function findDashboardDir(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'src', 'dashboard');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`dashboard assets not found: no src/dashboard/index.html above ${start}`);
  }
}

function serveAsset(req: IncomingMessage, res: ServerResponse, assets: DashboardAssets, asset: Asset): void {
  allowGet(req);
  const content = assets.read(asset);
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': content.length,
    'cache-control': 'no-cache',
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(req.method === 'HEAD' ? undefined : content);
}
