import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { SourceConfig } from '../../config/schema.js';
import { dedupeKey, dedupeWindowSec } from '../../ingest/dedupe.js';
import { verifiesBeforeBody, verifyRequest, type VerifyInput } from '../../ingest/verify/index.js';
import { hideVaultToken, withVaultSecret } from '../../secrets/verify-secret.js';
import type { HeaderPair, NewMessage, NewRun } from '../../store/types.js';
import type { Queue, Reservation } from '../../queues/registry.js';
import { requestVars } from '../../routing/request-vars.js';
import { chooseRoutes, routeLabel, type RouteChoice, type RoutedRequest } from '../../routing/routes.js';
import type { ApiDeps } from '../deps.js';
import { readBody, sendJson, sendProblem } from '../context.js';
import { SluiceError } from '../errors.js';
import type { DocumentedRoute } from '../openapi.js';
import { committing } from '../storage-failure.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const RETRY_AFTER_SECONDS = '1';
const NO_BODY = Buffer.alloc(0);

/** A Meta-style subscription check: echo the challenge when the token is the source's. */
const handshakeQuerySchema = z.object({
  'hub.mode': z.literal('subscribe'),
  'hub.verify_token': z.string().meta({ description: "The source's handshake.verifyToken" }),
  'hub.challenge': z.string().meta({ description: 'Sent back as the body' }),
});

const storedSchema = z.object({
  id: z.string().nullable().meta({ description: 'The stored message; for a source with routes or a workflow, the first of them (null: no message stored)' }),
  ids: z.array(z.string()).optional().meta({ description: 'A source with routes or a workflow: every message stored, one per queue route taken' }),
  runs: z
    .array(z.string())
    .optional()
    .meta({ description: 'When the request started workflow runs (its source names a workflow, or routes it to some): their ids, one per workflow; a repeated delivery id answers the first runs' }),
});

const INGEST_DOC = {
  tag: 'ingest',
  auth: 'source-signature',
  params: { source: z.string().regex(NAME).meta({ description: 'A source of sluice.yaml' }) },
} as const;
const INGEST_ERRORS = [
  'SLUICE_ERR_SOURCE_NOT_FOUND',
  'SLUICE_ERR_SIGNATURE',
  'SLUICE_ERR_METHOD_NOT_ALLOWED',
  'SLUICE_ERR_QUEUE_NOT_FOUND',
  'SLUICE_ERR_WORKFLOW_NOT_FOUND',
  'SLUICE_ERR_QUEUE_FULL',
] as const;

/**
 * The routes the front door hands to handleIngest, as the OpenAPI document lists them. A source
 * also takes any sub-path, `/in/{source}/{any/sub/path}`, which is stored with the message and,
 * for a push queue, appended to its url; OpenAPI has no parameter that spans segments to show it.
 */
export const INGEST_ROUTES: readonly DocumentedRoute[] = [
  ...(['POST', 'PUT', 'PATCH'] as const).map((method) => ({
    method,
    path: '/in/:source',
    doc: {
      ...INGEST_DOC,
      summary: 'Store a webhook as it came, and answer once it is durable',
      description: 'Any sub-path is taken too: `/in/{source}/{any/sub/path}`. A duplicate delivery id within the dedupe window answers with the first id and stores nothing.',
      rawBody: 'Stored as raw bytes, with the headers, query and sub-path; never parsed',
      response: {
        status: 202,
        schema: storedSchema,
        description: "Stored. A source with a configured `response` answers with that status, headers and body instead",
      },
      errors: INGEST_ERRORS,
    },
  })),
  {
    method: 'GET',
    path: '/in/:source',
    doc: {
      ...INGEST_DOC,
      summary: "Answer a provider's subscription handshake (Meta hub.challenge)",
      description: 'Only for a source with `handshake` configured; any other source answers 405.',
      query: handshakeQuerySchema,
      response: { status: 200, contentType: 'text/plain', description: 'The challenge' },
      errors: ['SLUICE_ERR_SOURCE_NOT_FOUND', 'SLUICE_ERR_FORBIDDEN', 'SLUICE_ERR_METHOD_NOT_ALLOWED'],
    },
  },
];

/**
 * POST|PUT|PATCH /in/{source}[/{sub/path}] — the providers' side. Stores the request exactly as it
 * came (raw bytes, headers, query, sub-path) and answers only once the group commit holding it is
 * durable. The body is never parsed on this path (except a Stripe dedupe id, when configured).
 */
export function handleIngest(app: ApiDeps, req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
  const slash = path.indexOf('/', 4);
  const sourceName = slash < 0 ? path.slice(4) : path.slice(4, slash);
  const subPath = slash < 0 ? '/' : path.slice(slash);
  const source = NAME.test(sourceName) ? app.sources.get(sourceName)?.config : undefined;
  if (!source) return sendProblem(res, new SluiceError('SLUICE_ERR_SOURCE_NOT_FOUND', `no source named ${sourceName}`), path);
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return answerHandshake(source, res, query, path);
  if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') {
    return sendProblem(res, methodNotAllowed(), path);
  }
  ingest({ app, sourceName, source, req, res, subPath, query }).catch((error: unknown) => sendProblem(res, error, path));
}

/** One ingest request and what it was sent to. */
interface IngestCall {
  app: ApiDeps;
  sourceName: string;
  source: SourceConfig;
  req: IncomingMessage;
  res: ServerResponse;
  subPath: string;
  query: string;
}

async function ingest(call: IngestCall): Promise<void> {
  const { app, sourceName, source, req, res, subPath, query } = call;
  const started = performance.now();
  if (source.routes) return ingestRouted(call, started);
  if (source.workflow !== undefined) return ingestRun(call);
  const queue = app.queues.get(source.queue!);
  if (!queue) throw new SluiceError('SLUICE_ERR_QUEUE_NOT_FOUND', `source ${sourceName} feeds a queue that no longer exists`);
  if (app.stopping) throw shuttingDown();
  // A token is checked from the headers or query before any of the body is read; such a request is
  // then authenticated, and its body does not count toward the room for unauthenticated ones.
  const early = verifyEarly(call);
  const reservation = admit(app, queue);
  let result;
  try {
    const { body, input } = await readVerified(call, early);
    const message = toMessage(app, `source:${sourceName}`, queue, req.method ?? 'POST', headerPairs(req.rawHeaders), body, subPath, query);
    if (source.verify) hideVaultToken(source.verify, message);
    withDedupe(app, message, sourceName, source, input);
    reportRefusal(app, queue, () => app.queues.reserveBytes(reservation, message));
    result = await committing(app.logger, 'ingest', { source: sourceName }, () => app.writer.append(message));
  } finally {
    app.queues.release(reservation);
  }
  app.events.emit('received', { queue: queue.name, origin: `source:${sourceName}`, count: 1, latencyMs: performance.now() - started });
  respond(res, source, result.id);
}

/**
 * A source with routes: verified and deduplicated once, then routed; one message per route taken (or
 * the fallback), all in one commit, sharing one stored payload (the first is the lead). Nothing
 * matched and no fallback: answered as usual, counted and logged, nothing stored.
 */
async function ingestRouted(call: IngestCall, started: number): Promise<void> {
  const { app, sourceName, source, req, res, subPath, query } = call;
  if (app.stopping) throw shuttingDown();
  const { body, input } = await readVerified(call, verifyEarly(call));
  const method = req.method ?? 'POST';
  const headers = headerPairs(req.rawHeaders);
  const request: RoutedRequest = { method, path: subPath, query, headers, body };
  const choice = chooseRoutes(source, request);
  const labels = choice.routes.map(({ route, index }) => routeLabel(route, index));
  const { queues: targets, workflows } = targetsOf(choice);
  if (targets.length === 0 && workflows === undefined) {
    app.sources.count(sourceName, labels, false);
    app.events.emit('unrouted', { source: sourceName });
    return respond(res, source, undefined, []);
  }
  // Worked out before anything is stored: a workflow gone since the source was saved refuses the request whole.
  const runs = workflows && planRuns(call, workflows, request, input);
  if (targets.length === 0) {
    const ids = await startRuns(call, runs!);
    app.sources.count(sourceName, labels, false);
    return respond(res, source, undefined, [], ids);
  }
  const queues = targets.map((name) => {
    const queue = app.queues.get(name);
    if (!queue) throw new SluiceError('SLUICE_ERR_QUEUE_NOT_FOUND', `source ${sourceName} routes to queue ${name}, which no longer exists`);
    return queue;
  });
  const origin = `source:${sourceName}`;
  const messages = queues.map((queue, index) => {
    const message = toMessage(app, origin, queue, method, headers, body, subPath, query);
    if (source.verify) hideVaultToken(source.verify, message);
    message.payload = index === 0 ? 'lead' : { follows: index };
    return message;
  });
  withDedupe(app, messages[0]!, sourceName, source, input); // the request's key, on its lead alone
  const reservation = reportRefusal(app, queues[0]!, () => app.queues.reserve(perQueue(queues)));
  let results;
  let runIds: string[] | undefined;
  try {
    for (const message of messages) reportRefusal(app, app.queues.get(message.queue)!, () => app.queues.reserveBytes(reservation, message));
    if (runs === undefined) results = await committing(app.logger, 'ingest', { source: sourceName }, () => app.writer.appendGroup(messages));
    else {
      // Messages and runs in one commit: a request refused for want of room in a queue starts none, and a failed commit stores neither.
      const done = await committing(app.logger, 'ingest', { source: sourceName }, () => app.writer.appendWithRuns(messages, runs));
      results = done.results;
      runIds = app.workflows.noteStarted(runs, done.runs, origin);
    }
  } finally {
    app.queues.release(reservation);
  }
  app.sources.count(sourceName, labels, choice.fallback !== undefined);
  // One request, one ingest latency (on the first event); a message received in each queue.
  const latencyMs = performance.now() - started;
  queues.forEach((queue, index) => app.events.emit('received', { queue: queue.name, origin, count: 1, latencyMs: index === 0 ? latencyMs : undefined }));
  respond(res, source, results[0]!.id, [...new Set(results.map((result) => result.id))], runIds);
}

/**
 * A source with `workflow`: verified (and its delivery id read) once, then a run of the workflow
 * starts in the source's tenant with the request in `vars.request`. Answered once the run is stored.
 */
async function ingestRun(call: IngestCall): Promise<void> {
  const { app, source, req, res, subPath, query } = call;
  if (app.stopping) throw shuttingDown();
  const { body, input } = await readVerified(call, verifyEarly(call));
  const request: RoutedRequest = { method: req.method ?? 'POST', path: subPath, query, headers: headerPairs(req.rawHeaders), body };
  const ids = await startRuns(call, planRuns(call, [source.workflow!], request, input));
  respond(res, source, undefined, [], ids);
}

/**
 * The runs one request starts, one per workflow, in the source's tenant, not stored yet. Each reads
 * the request in `vars.request` (a vault token it was verified with hidden, as in a stored message).
 * With the source's delivery id as their idempotency key, a repeated delivery finds the runs it
 * started (for as long as they are kept) instead of starting more. Throws 404 for a workflow the
 * tenant no longer has.
 */
function planRuns({ app, sourceName, source }: IngestCall, workflows: string[], request: RoutedRequest, input: VerifyInput | undefined): NewRun[] {
  const tenant = app.sources.get(sourceName)?.tenant ?? 'default';
  const seen = { headers: request.headers as HeaderPair[], query: request.query };
  if (source.verify) hideVaultToken(source.verify, seen);
  const vars = { request: requestVars({ ...request, ...seen }) };
  const key = source.dedupe && input ? dedupeKey(source.dedupe, input) : undefined;
  const idempotencyKey = key === undefined ? undefined : `source:${sourceName}:${key}`;
  return workflows.map((workflow) => app.workflows.plan(tenant, workflow, { vars, ...(idempotencyKey ? { idempotencyKey } : {}) }));
}

/** Store planned runs in the next group commit; their ids in order (a repeated delivery's: the first runs'). */
async function startRuns({ app, sourceName }: IngestCall, runs: NewRun[]): Promise<string[]> {
  const stored = await committing(app.logger, 'ingest', { source: sourceName }, () => app.writer.appendWithRuns([], runs));
  return app.workflows.noteStarted(runs, stored.runs, `source:${sourceName}`);
}

/** Where a routed request goes: queues that get a message, and workflows that start a run (undefined when none, as for most sources). */
function targetsOf(choice: RouteChoice): { queues: string[]; workflows?: string[] } {
  if (choice.fallback !== undefined) return { queues: [choice.fallback] };
  const queues: string[] = [];
  let workflows: string[] | undefined;
  for (const { route } of choice.routes) {
    if (route.workflow === undefined) queues.push(route.queue!);
    else (workflows ??= []).push(route.workflow);
  }
  return workflows === undefined ? { queues } : { queues, workflows };
}

/** Room for one message in each queue (a queue named by two routes, two), held until the commit is known. */
function perQueue(queues: Queue[]): { queue: Queue; n: number; bytes: number }[] {
  const wanted = new Map<string, { queue: Queue; n: number; bytes: number }>();
  for (const queue of queues) {
    const entry = wanted.get(queue.name);
    if (entry) entry.n += 1;
    else wanted.set(queue.name, { queue, n: 1, bytes: 0 }); // bytes once the body is known
  }
  return [...wanted.values()];
}

function shuttingDown(): SluiceError {
  return new SluiceError('SLUICE_ERR_SHUTTING_DOWN', undefined, { headers: { 'retry-after': RETRY_AFTER_SECONDS } });
}

/** A source verified by a token in the headers or query is checked before its body is read: true when it was. */
function verifyEarly({ app, sourceName, source, req, query }: IngestCall): boolean {
  const early = source.verify !== undefined && verifiesBeforeBody(source.verify);
  if (early) verify(app, sourceName, source, { headers: req.headers, rawBody: NO_BODY, query: new URLSearchParams(query) });
  return early;
}

/**
 * Read the body (within the source's limit; a request not verified `early` counts toward the room
 * for unauthenticated bodies), then check its signature unless done early. `input` is what dedupe
 * keys read; a source with neither verify nor dedupe (the hot path) builds none of it.
 */
async function readVerified({ app, sourceName, source, req, res, query }: IngestCall, early: boolean): Promise<{ body: Buffer; input: VerifyInput | undefined }> {
  const body = await readBody(req, source.maxBodyBytes ?? app.config.server.maxBodyBytes, app.bodies.watch(req, res, !early));
  const input: VerifyInput | undefined =
    source.verify || source.dedupe ? { headers: req.headers, rawBody: body, query: new URLSearchParams(query) } : undefined;
  if (!early && input) verify(app, sourceName, source, input);
  return { body, input };
}

/** Throws 401 unless the request passes the source's verification (none configured: it passes). */
function verify(app: ApiDeps, sourceName: string, source: SourceConfig, input: VerifyInput): void {
  if (!source.verify) return;
  const config = withVaultSecret(source.verify, () => app.sources.get(sourceName)?.tenant ?? 'default', app.vault);
  if ('failure' in config) {
    app.events.emit('signature-refused', { source: sourceName, reason: config.failure });
    throw new SluiceError('SLUICE_ERR_SECRET_UNAVAILABLE', 'this source cannot verify requests now; retry later', { headers: { 'retry-after': '60' } });
  }
  const verdict = verifyRequest(config, input, app.clock.now());
  if (verdict.ok) return;
  app.events.emit('signature-refused', { source: sourceName, reason: verdict.reason });
  throw new SluiceError('SLUICE_ERR_SIGNATURE', verdict.reason);
}

/** Room for one message in the queue (and its tenant's quotas), held until the commit is known. */
function admit(app: ApiDeps, queue: Queue): Reservation {
  return reportRefusal(app, queue, () => app.queues.reserve([{ queue, n: 1, bytes: 0 }])); // its bytes once the body is read
}

/** Run an admission; a refusal is also told to the event stream as backpressure. */
function reportRefusal<T>(app: ApiDeps, queue: Queue, admission: () => T): T {
  try {
    return admission();
  } catch (error) {
    const waiting = app.queues.depth(queue.name) + app.queues.reserved(queue.name);
    const reason = error instanceof SluiceError && error.code === 'SLUICE_ERR_TENANT_QUOTA' ? 'tenant' : 'concurrency';
    app.events.emit('backpressure', { domain: `queue:${queue.name}`, reason, waiting });
    throw error;
  }
}

function toMessage(
  app: ApiDeps,
  origin: string,
  queue: Queue,
  method: string,
  headers: HeaderPair[],
  body: Buffer,
  subPath: string,
  query: string,
): NewMessage {
  const now = app.clock.now();
  const message: NewMessage = {
    queue: queue.name,
    tenant: queue.tenant,
    method,
    path: subPath,
    query,
    headers,
    body,
    domain: '',
    receivedAt: now,
    deliverAt: now,
    origin,
    priority: queue.config.priority,
  };
  if (queue.config.mode === 'push') {
    message.url = joinTarget(queue.config.url!, subPath, query);
    message.domain = app.domainOf(message.url);
  }
  return message;
}

/** The source's dedupe key of this request, when it has one, on `message`. */
function withDedupe(app: ApiDeps, message: NewMessage, sourceName: string, source: SourceConfig, input: VerifyInput | undefined): void {
  const key = source.dedupe && input ? dedupeKey(source.dedupe, input) : undefined;
  if (key === undefined || !source.dedupe) return;
  message.dedupe = { scope: `source:${sourceName}`, key, expiresAt: message.receivedAt + dedupeWindowSec(source.dedupe) * 1000 };
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

/**
 * The answer once stored: `{ id }`, or for a source with routes or a workflow `{ id, ids }` (id: the
 * first message, null when none was stored), with `runs` when the request started workflow runs; or
 * the source's configured response (`{run}` in its body: the first run's id).
 */
function respond(res: ServerResponse, source: SourceConfig, id: string | undefined, ids?: string[], runs?: string[]): void {
  const answer = ids === undefined ? { id } : runs === undefined ? { id: id ?? null, ids } : { id: id ?? null, ids, runs };
  if (!source.response) return sendJson(res, 202, answer);
  const { status, headers, body } = source.response;
  if (body === undefined) return sendJson(res, status, answer, headers);
  const withId = body.replaceAll('{id}', id ?? '');
  const text = runs === undefined ? withId : withId.replaceAll('{run}', runs[0] ?? '');
  res.writeHead(status, { 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** GET /in/{source}: Meta-style subscription handshake where configured, else 405. */
function answerHandshake(source: SourceConfig, res: ServerResponse, query: string, path: string): void {
  if (!source.handshake) return sendProblem(res, methodNotAllowed(), path);
  const params = handshakeQuerySchema.safeParse(Object.fromEntries(new URLSearchParams(query)));
  if (!params.success || params.data['hub.verify_token'] !== source.handshake.verifyToken) {
    return sendProblem(res, new SluiceError('SLUICE_ERR_FORBIDDEN', 'handshake token does not match'), path);
  }
  const challenge = params.data['hub.challenge'];
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(challenge) });
  res.end(challenge);
}

function methodNotAllowed(): SluiceError {
  return new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', 'use POST, PUT or PATCH', { headers: { allow: 'POST, PUT, PATCH' } });
}
