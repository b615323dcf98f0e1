import { buildStats, recentEvents } from '../../observe/stats.js';
import { statsSnapshotSchema } from '../../observe/stats-schema.js';
import type { ApiDeps } from '../deps.js';
import { allowGet } from '../context.js';
import type { Router } from '../router.js';
import type { PlainEntry, PlainRoute } from '../server.js';
import { serveStaticFile, StaticFiles, type StaticFile } from '../static-files.js';

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
  }, {
    summary: 'A snapshot of domains, queues and tenants, with recent events',
    description: "A tenant key sees its own queues and tenant, and the domains its messages go to with its own numbers only.",
    tag: 'monitoring',
    auth: 'tenant',
    response: { status: 200, schema: statsSnapshotSchema, description: 'The snapshot' },
  });
  router.add('GET', '/v1/stats/stream', async (ctx) => {
    app.telemetry.streams.open(ctx.res, ctx.principal);
    return undefined;
  }, {
    summary: 'The stats as Server-Sent Events: a snapshot each second, and events as they happen',
    description:
      'Events: `snapshot` (the GET /v1/stats answer), `backpressure`, `throttled`, `circuit-open`, `dead` and the other logged events (with `id:`, their seq); and workflow runs\' `run-started` (with `origin`), `run-step` (`step`, `stepState`) and `run-ended`, each with `run`, `tenant`, `workflow` and the run\'s `state` after it (a tenant key gets its own runs only; no `id:`).',
    tag: 'monitoring',
    auth: 'tenant',
    response: { status: 200, contentType: 'text/event-stream', description: 'The stream, until the client closes it' },
  });
}

/**
 * Routes outside /v1: `/metrics` (Prometheus text; needs the admin key as a Bearer token, because
 * queue and destination names are not public) and the dashboard with its assets (public: the page
 * holds no data; it asks for a key and calls the API with it).
 */
export function observePlainRoutes(): [string, PlainEntry][] {
  const files = new StaticFiles();
  const routes: [string, PlainEntry][] = [['/metrics', { handler: metricsRoute, doc: METRICS_DOC }]];
  for (const [path, file] of Object.entries(DASHBOARD_FILES)) {
    const handler: PlainRoute = (_app, req, res) => serveStaticFile(req, res, files, file, DASHBOARD_CSP);
    routes.push([path, { handler, doc: path === '/dashboard' ? DASHBOARD_DOC : 'page-file' }]);
  }
  return routes;
}

const METRICS_DOC: PlainEntry['doc'] = {
  summary: "This node's counters and gauges in the Prometheus text format",
  tag: 'monitoring',
  auth: 'admin',
  response: { status: 200, contentType: 'text/plain; version=0.0.4', description: 'The metrics' },
};

const DASHBOARD_DOC: PlainEntry['doc'] = {
  summary: 'The live dashboard: a web page that asks for a key and calls this API with it',
  tag: 'monitoring',
  auth: 'none',
  response: { status: 200, contentType: 'text/html', description: 'The page; it holds no data' },
};

const metricsRoute: PlainRoute = async (app, req, res) => {
  allowGet(req);
  const text = await app.telemetry.metrics.render();
  res.writeHead(200, { 'content-type': app.telemetry.metrics.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

// ── dashboard files ───────────────────────────────────────────

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const DASHBOARD = { source: 'dashboard' };
const UPLOT = { package: 'uplot', dir: 'dist' };

const DASHBOARD_FILES: Record<string, StaticFile> = {
  '/dashboard': { from: DASHBOARD, file: 'index.html', type: HTML },
  '/dashboard/': { from: DASHBOARD, file: 'index.html', type: HTML },
  '/dashboard/app.js': { from: DASHBOARD, file: 'app.js', type: JS },
  '/dashboard/views.js': { from: DASHBOARD, file: 'views.js', type: JS },
  '/dashboard/app.css': { from: DASHBOARD, file: 'app.css', type: CSS },
  '/dashboard/uplot.js': { from: UPLOT, file: 'uPlot.iife.min.js', type: JS },
  '/dashboard/uplot.css': { from: UPLOT, file: 'uPlot.min.css', type: CSS },
};
