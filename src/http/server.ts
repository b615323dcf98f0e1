import { createServer, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ApiDeps } from './deps.js';
import { requireAdmin } from './auth.js';
import { bodyPending, sendJson, sendProblem } from './context.js';
import { SluiceError, toProblem } from './errors.js';
import type { RouteDoc } from './route-doc.js';
import { Router, type RouteContext } from './router.js';
import { handleIngest } from './routes/ingest.js';

/** A route outside /v1 and /in: health, metrics, pages. Handles the request itself. */
export type PlainRoute = (app: ApiDeps, req: IncomingMessage, res: ServerResponse, query: string) => void | Promise<void>;

/**
 * A plain route with its description (it answers GET), or `page-file` for a script, style sheet or
 * image of a documented page (or its path with a trailing slash), which the OpenAPI document leaves out.
 */
export interface PlainEntry {
  handler: PlainRoute;
  doc: (RouteDoc & { auth: 'none' | 'admin' }) | 'page-file';
}

/**
 * The HTTP front door. /in/* (public, hot path) goes straight to ingest; /v1/* is authenticated and
 * routed through the table; a few plain routes (health, metrics, dashboard) are looked up by path.
 */
export function createHttpServer(app: ApiDeps, api: Router, plain: ReadonlyMap<string, PlainEntry>): Server {
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
    if (route) return void handlePlain(app, route, req, res, query).catch((error: unknown) => sendProblem(res, error, path));
    sendProblem(res, new SluiceError('SLUICE_ERR_NOT_FOUND', `nothing at ${path}`), path);
  });
  server.maxConnections = maxConnections;
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (socket.writable) socket.end(clientErrorResponse(error));
    else socket.destroy();
  });
  return server;
}

/**
 * The answer to a request node:http could not parse, written straight to the socket (there is no
 * response object): headers over the limit are a 431 (RFC 6585), anything else a 400, both as
 * problem+json, and the connection is closed since the rest of its bytes cannot be trusted.
 */
function clientErrorResponse(error: NodeJS.ErrnoException): string {
  const overflow = error.code === 'HPE_HEADER_OVERFLOW';
  const problem = toProblem(
    overflow
      ? new SluiceError('SLUICE_ERR_HEADERS_TOO_LARGE', `the request line and headers are larger than ${maxHeaderSize} bytes`, { extra: { limit: maxHeaderSize } })
      : new SluiceError('SLUICE_ERR_BAD_REQUEST', 'the request is not valid HTTP/1.1'),
  );
  const text = JSON.stringify(problem.body);
  const reason = overflow ? 'Request Header Fields Too Large' : 'Bad Request';
  return (
    `HTTP/1.1 ${problem.status} ${reason}\r\n` +
    'content-type: application/problem+json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(text)}\r\n` +
    'connection: close\r\n\r\n' +
    text
  );
}

/** A plain route; one described as admin-only is refused without the admin key before it runs. */
async function handlePlain(app: ApiDeps, route: PlainEntry, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  if (route.doc !== 'page-file' && route.doc.auth === 'admin') requireAdmin(app.auth.authenticate(req));
  await route.handler(app, req, res, query);
}

async function handleApi(app: ApiDeps, api: Router, req: IncomingMessage, res: ServerResponse, path: string, query: string) {
  try {
    const principal = app.auth.authenticate(req);
    const match = api.match(req.method ?? 'GET', path);
    if (match.kind === 'not-found') throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no route ${req.method} ${path}`);
    if (match.kind === 'method-not-allowed') {
      throw new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', `use ${match.allowed.join(', ')}`, { headers: { allow: match.allowed.join(', ') } });
    }
    if (match.auth === 'admin') requireAdmin(principal);
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
function watchApiBody(app: ApiDeps, req: IncomingMessage, res: ServerResponse): void {
  const watch = app.bodies.watch(req, res, false);
  req.once('end', () => watch.done());
}
