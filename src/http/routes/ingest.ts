import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SourceConfig } from '../../config/schema.js';
import { dedupeKey, DEFAULT_DEDUPE_WINDOW_SEC } from '../../ingest/dedupe.js';
import { verifiesBeforeBody, verifyRequest, type VerifyInput } from '../../ingest/verify/index.js';
import type { HeaderPair, NewMessage } from '../../store/types.js';
import type { Queue, Reservation } from '../../queues/registry.js';
import type { Sluice } from '../../sluice.js';
import { readBody, sendJson, sendProblem } from '../context.js';
import { SluiceError } from '../errors.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const RETRY_AFTER_SECONDS = '1';
const NO_BODY = Buffer.alloc(0);

/**
 * POST|PUT|PATCH /in/{source}[/{sub/path}] — the providers' side. Stores the request exactly as it
 * came (raw bytes, headers, query, sub-path) and answers only once the group commit holding it is
 * durable. The body is never parsed on this path (except a Stripe dedupe id, when configured).
 */
export function handleIngest(app: Sluice, req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
  const slash = path.indexOf('/', 4);
  const sourceName = slash < 0 ? path.slice(4) : path.slice(4, slash);
  const subPath = slash < 0 ? '/' : path.slice(slash);
  const source = NAME.test(sourceName) ? app.config.sources[sourceName] : undefined;
  if (!source) return sendProblem(res, new SluiceError('SLUICE_ERR_SOURCE_NOT_FOUND', `no source named ${sourceName}`), path);
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return answerHandshake(source, res, query, path);
  if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') {
    return sendProblem(res, methodNotAllowed(), path);
  }
  ingest(app, sourceName, source, req, res, subPath, query).catch((error: unknown) => sendProblem(res, error, path));
}

async function ingest(
  app: Sluice,
  sourceName: string,
  source: SourceConfig,
  req: IncomingMessage,
  res: ServerResponse,
  subPath: string,
  query: string,
): Promise<void> {
  const started = performance.now();
  const queue = app.queues.get(source.queue);
  if (!queue) throw new SluiceError('SLUICE_ERR_QUEUE_NOT_FOUND', `source ${sourceName} feeds a queue that no longer exists`);
  if (app.stopping) throw new SluiceError('SLUICE_ERR_SHUTTING_DOWN', undefined, { headers: { 'retry-after': RETRY_AFTER_SECONDS } });
  // A token is checked from the headers or query before any of the body is read; such a request is
  // then authenticated, and its body does not count toward the room for unauthenticated ones.
  const early = source.verify !== undefined && verifiesBeforeBody(source.verify);
  if (early) verify(app, source, { headers: req.headers, rawBody: NO_BODY, query: new URLSearchParams(query) });
  const reservation = admit(app, queue);
  let result;
  try {
    const body = await readBody(req, source.maxBodyBytes ?? app.config.server.maxBodyBytes, app.bodies.watch(req, res, !early));
    // What signature checks and dedupe keys read; a source with neither (the hot path) builds none of it.
    const input: VerifyInput | undefined =
      source.verify || source.dedupe ? { headers: req.headers, rawBody: body, query: new URLSearchParams(query) } : undefined;
    if (!early && input) verify(app, source, input);
    const message = toMessage(app, sourceName, source, queue.tenant, req, body, subPath, query, input);
    reportRefusal(app, queue, () => app.queues.reserveBytes(reservation, message));
    result = await commit(app, sourceName, message);
  } finally {
    app.queues.release(reservation);
  }
  app.events.emit('received', { queue: queue.name, origin: `source:${sourceName}`, count: 1, latencyMs: performance.now() - started });
  respond(res, source, result.id);
}

/** Throws 401 unless the request passes the source's verification (none configured: it passes). */
function verify(app: Sluice, source: SourceConfig, input: VerifyInput): void {
  if (!source.verify) return;
  const verdict = verifyRequest(source.verify, input, app.clock.now());
  if (!verdict.ok) throw new SluiceError('SLUICE_ERR_SIGNATURE', verdict.reason);
}

/** Room for one message in the queue (and its tenant's quotas), held until the commit is known. */
function admit(app: Sluice, queue: Queue): Reservation {
  return reportRefusal(app, queue, () => app.queues.reserve([{ queue, n: 1, bytes: 0 }])); // its bytes once the body is read
}

/** Run an admission; a refusal is also told to the event stream as backpressure. */
function reportRefusal<T>(app: Sluice, queue: Queue, admission: () => T): T {
  try {
    return admission();
  } catch (error) {
    const waiting = app.queues.depth(queue.name) + app.queues.reserved(queue.name);
    const reason = error instanceof SluiceError && error.code === 'SLUICE_ERR_TENANT_QUOTA' ? 'tenant' : 'concurrency';
    app.events.emit('backpressure', { domain: `queue:${queue.name}`, reason, waiting });
    throw error;
  }
}

async function commit(app: Sluice, sourceName: string, message: NewMessage) {
  try {
    return await app.writer.append(message);
  } catch (error) {
    app.logger.error('ingest commit failed', { source: sourceName, error: (error as Error).message });
    throw new SluiceError('SLUICE_ERR_STORAGE_UNAVAILABLE', 'the message could not be stored; retry later', {
      cause: error,
      headers: { 'retry-after': RETRY_AFTER_SECONDS },
    });
  }
}

function toMessage(
  app: Sluice,
  sourceName: string,
  source: SourceConfig,
  tenant: string,
  req: IncomingMessage,
  body: Buffer,
  subPath: string,
  query: string,
  input: VerifyInput | undefined,
): NewMessage {
  const now = app.clock.now();
  const queue = app.queues.get(source.queue)!;
  const message: NewMessage = {
    queue: queue.name,
    tenant,
    method: req.method ?? 'POST',
    path: subPath,
    query,
    headers: headerPairs(req.rawHeaders),
    body,
    domain: '',
    receivedAt: now,
    deliverAt: now,
    origin: `source:${sourceName}`,
  };
  if (queue.config.mode === 'push') {
    message.url = joinTarget(queue.config.url!, subPath, query);
    message.domain = app.domainOf(message.url);
  }
  const key = source.dedupe && input ? dedupeKey(source.dedupe, input) : undefined;
  if (key !== undefined && source.dedupe) {
    const windowSec = typeof source.dedupe === 'object' && 'windowSec' in source.dedupe && source.dedupe.windowSec ? source.dedupe.windowSec : DEFAULT_DEDUPE_WINDOW_SEC;
    message.dedupe = { scope: `source:${sourceName}`, key, expiresAt: now + windowSec * 1000 };
  }
  return message;
}

/** A push queue's target, extended by the sub-path and query the provider called. */
function joinTarget(base: string, subPath: string, query: string): string {
  if (subPath === '/' && query === '') return base;
  const url = new URL(base);
  if (subPath !== '/') url.pathname = url.pathname.replace(/\/$/, '') + subPath;
  if (query !== '') url.search = url.search ? `${url.search}&${query}` : query;
  return url.toString();
}

function headerPairs(raw: string[]): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) pairs.push([raw[index]!, raw[index + 1]!]);
  return pairs;
}

function respond(res: ServerResponse, source: SourceConfig, id: string): void {
  if (!source.response) return sendJson(res, 202, { id });
  const { status, headers, body } = source.response;
  if (body === undefined) return sendJson(res, status, { id }, headers);
  const text = body.replaceAll('{id}', id);
  res.writeHead(status, { 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** GET /in/{source}: Meta-style subscription handshake where configured, else 405. */
function answerHandshake(source: SourceConfig, res: ServerResponse, query: string, path: string): void {
  if (!source.handshake) return sendProblem(res, methodNotAllowed(), path);
  const params = new URLSearchParams(query);
  const challenge = params.get('hub.challenge');
  if (params.get('hub.mode') !== 'subscribe' || params.get('hub.verify_token') !== source.handshake.verifyToken || challenge === null) {
    return sendProblem(res, new SluiceError('SLUICE_ERR_FORBIDDEN', 'handshake token does not match'), path);
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(challenge) });
  res.end(challenge);
}

function methodNotAllowed(): SluiceError {
  return new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', 'use POST, PUT or PATCH', { headers: { allow: 'POST, PUT, PATCH' } });
}
