import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Sluice } from '../sluice.js';
import { bodyPending, sendJson, sendProblem } from './context.js';
import { SluiceError } from './errors.js';
import { Router, type RouteContext } from './router.js';
import { handleIngest } from './routes/ingest.js';

/** A route outside /v1 and /in: health, metrics, dashboard. Handles the request itself. */
export type PlainRoute = (app: Sluice, req: IncomingMessage, res: ServerResponse, query: string) => void | Promise<void>;

/**
 * The HTTP front door. /in/* (public, hot path) goes straight to ingest; /v1/* is authenticated and
 * routed through the table; a few plain routes (health, metrics, dashboard) are looked up by path.
 */
export function createHttpServer(app: Sluice, api: Router, plain: Map<string, PlainRoute>): Server {
  const { maxConnections, bodyTimeoutMs } = app.config.server;
  // Node's own limit on a whole request stays as a backstop behind bodyTimeoutMs (see IncompleteBodies).
  const requestTimeout = Math.max(120_000, bodyTimeoutMs + 60_000);
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout }, (req, res) => {
    const url = req.url ?? '/';
    const mark = url.indexOf('?');
    const path = mark < 0 ? url : url.slice(0, mark);
    const query = mark < 0 ? '' : url.slice(mark + 1);
    if (path.startsWith('/in/')) return handleIngest(app, req, res, path, query);
    if (path.startsWith('/v1/')) return void handleApi(app, api, req, res, path, query);
    const route = plain.get(path);
    if (route) return void Promise.resolve(route(app, req, res, query)).catch((error: unknown) => sendProblem(res, error, path));
    sendProblem(res, new SluiceError('SLUICE_ERR_NOT_FOUND', `nothing at ${path}`), path);
  });
  server.maxConnections = maxConnections;
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

async function handleApi(app: Sluice, api: Router, req: IncomingMessage, res: ServerResponse, path: string, query: string) {
  try {
    const principal = app.auth.authenticate(req);
    const match = api.match(req.method ?? 'GET', path);
    if (match.kind === 'not-found') throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no route ${req.method} ${path}`);
    if (match.kind === 'method-not-allowed') {
      throw new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', `use ${match.allowed.join(', ')}`, { headers: { allow: match.allowed.join(', ') } });
    }
    if (bodyPending(req)) watchApiBody(app, req, res);
    const ctx: RouteContext = { req, res, params: match.params, query: new URLSearchParams(query), principal };
    const reply = await match.handler(ctx);
    if (reply) sendJson(res, reply.status, reply.body, reply.headers);
  } catch (error) {
    if (!(error instanceof SluiceError)) app.logger.error('request failed', { path, error: (error as Error)?.stack ?? String(error) });
    sendProblem(res, error, path);
  }
}

/**
 * An authenticated request's body only has to arrive in time; it is done once read to its end
 * (listening for 'end' does not start the flow: the route reads it).
 */
function watchApiBody(app: Sluice, req: IncomingMessage, res: ServerResponse): void {
  const watch = app.bodies.watch(req, res, false);
  req.once('end', () => watch.done());
}
