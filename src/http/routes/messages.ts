import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import { retryPolicySchema } from '../../delivery/retry-policy.js';
import type { Sluice } from '../../sluice.js';
import { MESSAGE_STATES, storedSize, type NewMessage } from '../../store/types.js';
import type { Principal } from '../auth.js';
import { canAccess } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';
import { messageView } from '../views.js';
import { pageQuery } from './paging.js';

const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;
const MAX_DELAY_MS = 366 * 24 * 3_600_000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One outbound webhook as the API takes it. */
export const outboundMessageSchema = z
  .object({
    url: z.string().min(1).max(8_192),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: z.record(z.string().regex(HEADER_NAME, 'must be a valid header name'), z.string().max(16_384)).default({}),
    body: z.unknown().optional(),
    bodyBase64: z.base64().optional(),
    deliverAt: z.union([z.string().max(64), z.number()]).optional(),
    delayMs: z.number().int().min(0).max(MAX_DELAY_MS).optional(),
    queue: nameSchema.default('outbound'),
    idempotencyKey: z.string().min(1).max(256).optional(),
    retry: retryPolicySchema.optional(),
  })
  .strict()
  .refine((m) => m.body === undefined || m.bodyBase64 === undefined, { message: 'give body or bodyBase64, not both', path: ['bodyBase64'] })
  .refine((m) => m.deliverAt === undefined || m.delayMs === undefined, { message: 'give deliverAt or delayMs, not both', path: ['delayMs'] });
export type OutboundMessage = z.infer<typeof outboundMessageSchema>;

const batchSchema = z.object({ messages: z.array(outboundMessageSchema).min(1).max(10_000) }).strict();
const listSchema = z.object({ queue: nameSchema.optional(), state: z.enum(MESSAGE_STATES as [string, ...string[]]).optional() }).strip();

/** Outbound and scheduled webhooks: create one or a batch, inspect, list, cancel. */
export function registerMessageRoutes(router: Router, app: Sluice): void {
  router.add('POST', '/v1/messages', async (ctx) => {
    const input = await readJson(ctx.req, outboundMessageSchema, app.apiBodyLimit);
    const message = toNewMessage(app, ctx.principal, input, '');
    const [result] = await appendAdmitted(app, [message]);
    app.events.emit('received', { queue: message.queue, origin: 'api', count: 1 });
    return { status: result!.duplicate ? 200 : 201, body: await createdView(app, result!.id, result!.deliverAt) };
  });
  router.add('POST', '/v1/messages/batch', async (ctx) => {
    const input = await readJson(ctx.req, batchSchema, app.apiBodyLimit);
    const messages = input.messages.map((item, index) => toNewMessage(app, ctx.principal, item, `messages.${index}.`));
    const results = await appendAdmitted(app, messages);
    app.events.emit('received', { queue: messages[0]!.queue, origin: 'api', count: messages.length });
    const now = app.clock.now();
    const views = results.map((result) => ({
      id: result.id,
      deliverAt: new Date(result.deliverAt).toISOString(),
      state: result.deliverAt > now ? 'scheduled' : 'ready',
      duplicate: result.duplicate,
    }));
    return { status: 201, body: { messages: views } };
  });
  router.add('GET', '/v1/messages', async (ctx) => {
    const page = pageQuery(ctx.query);
    const filter = validate(listSchema, Object.fromEntries(ctx.query));
    if (filter.queue) app.queues.require(filter.queue, ctx.principal);
    const tenant = ctx.principal.kind === 'tenant' ? ctx.principal.tenant : undefined;
    const found = await app.store.listMessages({ ...filter, tenant, state: filter.state as never, limit: page.limit, before: page.cursor });
    return { status: 200, body: { messages: found.messages.map((m) => messageView(m)), nextCursor: found.nextCursor ?? null } };
  });
  router.add('GET', '/v1/messages/:id', async (ctx) => {
    const message = await visibleMessage(app, ctx.params.id!, ctx.principal);
    return { status: 200, body: messageView(message, await app.store.getAttempts(message.id)) };
  });
  router.add('DELETE', '/v1/messages/:id', async (ctx) => {
    const message = await visibleMessage(app, ctx.params.id!, ctx.principal);
    // Claimed ahead of its time but not sent: the dispatcher lets go of it, and it can still be cancelled.
    const withdrawn = app.dispatcher?.withdrawEarly(message) ?? false;
    const state = await app.store.cancel(message.id, app.clock.now(), withdrawn);
    if (state !== 'cancelled') {
      throw new SluiceError('SLUICE_ERR_CONFLICT', `message ${message.id} is ${state} and can no longer be cancelled`, { extra: { state } });
    }
    return { status: 200, body: { id: message.id, state } };
  });
}

/**
 * Commit messages within their queues' maxDepth and their tenants' quotas: room is reserved before
 * the commit and given back once it is known, so concurrent requests cannot pass a bound together.
 */
async function appendAdmitted(app: Sluice, messages: NewMessage[]) {
  const perQueue = new Map<string, { n: number; bytes: number }>();
  for (const message of messages) {
    const sum = perQueue.get(message.queue) ?? { n: 0, bytes: 0 };
    perQueue.set(message.queue, { n: sum.n + 1, bytes: sum.bytes + storedSize(message) });
  }
  const wanted = [...perQueue].map(([name, sum]) => ({ queue: app.queues.get(name)!, ...sum }));
  const reservation = app.queues.reserve(wanted);
  try {
    return await app.writer.appendAll(messages);
  } finally {
    app.queues.release(reservation);
  }
}

async function visibleMessage(app: Sluice, id: string, principal: Principal) {
  const message = await app.store.getMessage(id);
  if (!message || !canAccess(principal, message.tenant)) throw new SluiceError('SLUICE_ERR_MESSAGE_NOT_FOUND', `no message ${id}`);
  return message;
}

async function createdView(app: Sluice, id: string, deliverAt: number) {
  const stored = await app.store.getMessage(id);
  return { id, deliverAt: new Date(stored?.deliverAt ?? deliverAt).toISOString(), state: stored?.state ?? 'scheduled' };
}

/**
 * Turn one validated API message into what the store keeps. `at` prefixes field names in errors
 * (`messages.3.url`) so a bad item in a batch is named exactly.
 */
export function toNewMessage(app: Sluice, principal: Principal, input: OutboundMessage, at: string): NewMessage {
  const queue = app.queues.require(input.queue, principal);
  if (queue.config.mode !== 'push') throw new SluiceError('SLUICE_ERR_WRONG_QUEUE_MODE', `${at}queue: ${queue.name} is a pull queue`);
  const domain = fieldError(at, () => app.domainOf(input.url));
  app.refuseForbiddenTarget(input.url, domain, `${at}url`);
  const now = app.clock.now();
  const deliverAt = resolveDeliverAt(input, now, at);
  const { body, contentType } = encodeBody(input);
  const headers = Object.entries(input.headers);
  if (contentType && !headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['content-type', contentType]);
  const url = new URL(input.url);
  const message: NewMessage = {
    queue: queue.name,
    tenant: queue.tenant,
    method: input.method,
    path: url.pathname,
    query: url.search.slice(1),
    headers,
    body,
    url: url.toString(),
    domain,
    receivedAt: now,
    deliverAt,
    origin: 'api',
  };
  if (input.retry) message.retry = JSON.stringify(input.retry);
  if (input.idempotencyKey) message.dedupe = { scope: `idempotency:${queue.tenant}`, key: input.idempotencyKey, expiresAt: now + IDEMPOTENCY_WINDOW_MS };
  return message;
}

function fieldError<T>(at: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof SluiceError && at) throw new SluiceError(error.code, `${at}${error.message}`);
    throw error;
  }
}

/** deliverAt as RFC 3339 (with a zone) or epoch ms; or delayMs from now; or now. */
export function resolveDeliverAt(input: { deliverAt?: string | number | undefined; delayMs?: number | undefined }, now: number, at = ''): number {
  if (input.delayMs !== undefined) return now + input.delayMs;
  if (input.deliverAt === undefined) return now;
  const value = input.deliverAt;
  const ms = typeof value === 'number' ? value : parseRfc3339(value);
  if (ms === undefined || !Number.isFinite(ms) || !Number.isInteger(ms) || ms < 0 || ms > now + MAX_DELAY_MS) {
    throw new SluiceError('SLUICE_ERR_VALIDATION', `${at}deliverAt: must be an RFC 3339 time with a zone or epoch milliseconds, within a year`, {
      extra: { errors: [{ field: `${at}deliverAt`, message: 'unparseable or out of range' }] },
    });
  }
  return ms;
}

function parseRfc3339(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A string body is sent as is (set its content-type in headers); any other JSON value is serialised and marked application/json. */
function encodeBody(input: OutboundMessage): { body: Buffer; contentType?: string } {
  if (input.bodyBase64 !== undefined) return { body: Buffer.from(input.bodyBase64, 'base64') };
  if (input.body === undefined) return { body: Buffer.alloc(0) };
  if (typeof input.body === 'string') return { body: Buffer.from(input.body, 'utf8') };
  return { body: Buffer.from(JSON.stringify(input.body), 'utf8'), contentType: 'application/json' };
}
