import { z } from 'zod';
import { headerMapSchema, nameSchema } from '../../config/schema.js';
import { retryPolicySchema } from '../../delivery/retry-policy.js';
import type { Sluice } from '../../sluice.js';
import { defaultQueueName, tenantOf } from '../../queues/tenant-queues.js';
import { MESSAGE_STATES, type NewMessage } from '../../store/types.js';
import type { Principal } from '../auth.js';
import { canAccess } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { messagePageSchema, messageStateSchema, messageView, messageViewSchema, timestampSchema } from '../views.js';
import { pageQuery, pageSchema } from './paging.js';

const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;
const MAX_DELAY_MS = 366 * 24 * 3_600_000;

/** One outbound webhook as the API takes it. */
export const outboundMessageSchema = z
  .object({
    url: z.string().min(1).max(8_192).optional().meta({ description: "The target; absent: the queue's url (a 400 naming url when the queue has none)" }),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: headerMapSchema,
    body: z.unknown().optional().meta({ description: 'A string is sent as is; any other JSON value is sent as JSON' }),
    bodyBase64: z.base64().optional().meta({ description: 'Raw bytes to send, instead of body' }),
    deliverAt: z.union([z.string().max(64), z.number()]).optional().meta({ description: 'RFC 3339 time with a zone, or epoch milliseconds; within a year' }),
    delayMs: z.number().int().min(0).max(MAX_DELAY_MS).optional().meta({ description: 'Deliver this long from now, instead of deliverAt' }),
    queue: nameSchema.optional().meta({ description: "A push queue of the caller's; absent: the tenant's default outbound queue" }),
    idempotencyKey: z.string().min(1).max(256).optional().meta({ description: 'The same key within 24 h answers the first message, 200' }),
    retry: retryPolicySchema.optional().meta({ description: "Replaces the queue's retry policy for this message" }),
  })
  .strict()
  .refine((m) => m.body === undefined || m.bodyBase64 === undefined, { message: 'give body or bodyBase64, not both', path: ['bodyBase64'] })
  .refine((m) => m.deliverAt === undefined || m.delayMs === undefined, { message: 'give deliverAt or delayMs, not both', path: ['delayMs'] })
  // The two checks above in JSON Schema, for the OpenAPI document (zod cannot convert a refine).
  .meta({ allOf: [{ not: { required: ['body', 'bodyBase64'] } }, { not: { required: ['deliverAt', 'delayMs'] } }] });
export type OutboundMessage = z.infer<typeof outboundMessageSchema>;

const batchSchema = z.object({ messages: z.array(outboundMessageSchema).min(1).max(10_000) }).strict();
const listSchema = z.object({ queue: nameSchema.optional(), state: z.enum(MESSAGE_STATES as [string, ...string[]]).optional() }).strip();
const idParam = { id: z.string().meta({ description: 'A message id' }) };

const createdSchema = z.object({ id: z.string(), deliverAt: timestampSchema, state: messageStateSchema });
const batchCreatedSchema = z.object({
  messages: z.array(
    z.object({ id: z.string(), deliverAt: timestampSchema, state: z.enum(['scheduled', 'ready']), duplicate: z.boolean().meta({ description: 'An idempotencyKey seen within 24 h: the first message' }) }),
  ),
});

/** Outbound and scheduled webhooks: create one or a batch, inspect, list, cancel. */
export function registerMessageRoutes(router: Router, app: Sluice): void {
  router.add('POST', '/v1/messages', async (ctx) => {
    const input = await readJson(ctx.req, outboundMessageSchema, app.apiBodyLimit);
    const message = toNewMessage(app, ctx.principal, input, '');
    const [result] = await committing(app.logger, 'message', { queue: message.queue }, () => app.writer.appendAll([message]));
    app.events.emit('received', { queue: message.queue, origin: 'api', count: 1 });
    return { status: result!.duplicate ? 200 : 201, body: await createdView(app, result!.id, result!.deliverAt) };
  }, {
    summary: 'Send an outbound webhook, now or at a time',
    tag: 'messages',
    auth: 'tenant',
    body: outboundMessageSchema,
    response: { status: [201, 200], schema: createdSchema, description: '201: stored. 200: the idempotencyKey was seen within 24 h; the first message, nothing new stored' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND', 'SLUICE_ERR_WRONG_QUEUE_MODE'],
  });
  router.add('POST', '/v1/messages/batch', async (ctx) => {
    const input = await readJson(ctx.req, batchSchema, app.apiBodyLimit);
    const messages = input.messages.map((item, index) => toNewMessage(app, ctx.principal, item, `messages.${index}.`));
    const results = await committing(app.logger, 'batch', { count: messages.length }, () => app.writer.appendAll(messages));
    app.events.emit('received', { queue: messages[0]!.queue, origin: 'api', count: messages.length });
    const now = app.clock.now();
    const views = results.map((result) => ({
      id: result.id,
      deliverAt: new Date(result.deliverAt).toISOString(),
      state: result.deliverAt > now ? ('scheduled' as const) : ('ready' as const),
      duplicate: result.duplicate,
    }));
    return { status: 201, body: { messages: views } };
  }, {
    summary: 'Send up to 10,000 outbound webhooks in one commit, all or nothing',
    tag: 'messages',
    auth: 'tenant',
    body: batchSchema,
    response: { status: 201, schema: batchCreatedSchema, description: 'All stored, in the order given' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND', 'SLUICE_ERR_WRONG_QUEUE_MODE'],
  });
  router.add('GET', '/v1/messages', async (ctx) => {
    const page = pageQuery(ctx.query);
    const filter = validate(listSchema, Object.fromEntries(ctx.query));
    if (filter.queue) app.queues.require(filter.queue, ctx.principal);
    const tenant = ctx.principal.kind === 'tenant' ? ctx.principal.tenant : undefined;
    const found = await app.store.listMessages({ ...filter, tenant, state: filter.state as never, limit: page.limit + 1, before: page.cursor });
    const shown = found.slice(0, page.limit);
    return { status: 200, body: { messages: shown.map((m) => messageView(m)), nextCursor: found.length > page.limit ? shown.at(-1)!.id : null } };
  }, {
    summary: 'List messages, newest first',
    tag: 'messages',
    auth: 'tenant',
    query: pageSchema.extend(listSchema.shape),
    response: { status: 200, schema: messagePageSchema, description: 'One page' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND'],
  });
  router.add('GET', '/v1/messages/:id', async (ctx) => {
    const message = await visibleMessage(app, ctx.params.id!, ctx.principal);
    return { status: 200, body: messageView(message, await app.store.getAttempts(message.id)) };
  }, {
    summary: 'One message with its delivery attempts',
    tag: 'messages',
    auth: 'tenant',
    params: idParam,
    response: { status: 200, schema: messageViewSchema, description: 'The message' },
    errors: ['SLUICE_ERR_MESSAGE_NOT_FOUND'],
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
  }, {
    summary: 'Cancel a message not yet delivered',
    tag: 'messages',
    auth: 'tenant',
    params: idParam,
    response: { status: 200, schema: z.object({ id: z.string(), state: z.literal('cancelled') }), description: 'Cancelled' },
    errors: ['SLUICE_ERR_MESSAGE_NOT_FOUND', 'SLUICE_ERR_CONFLICT'],
  });
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
  const queue = app.queues.require(input.queue ?? defaultQueueName(tenantOf(principal)), principal);
  if (queue.config.mode !== 'push') throw new SluiceError('SLUICE_ERR_WRONG_QUEUE_MODE', `${at}queue: ${queue.name} is a pull queue`);
  const target = input.url ?? queue.config.url;
  if (target === undefined) {
    throw new SluiceError('SLUICE_ERR_VALIDATION', `${at}url: required (queue ${queue.name} has no url)`, {
      extra: { errors: [{ field: `${at}url`, message: 'required: the queue has no url' }] },
    });
  }
  const domain = fieldError(at, () => app.domainOf(target));
  app.refuseForbiddenTarget(target, domain, `${at}url`);
  const now = app.clock.now();
  const deliverAt = resolveDeliverAt(input, now, at);
  const { body, contentType } = encodeBody(input);
  const headers = Object.entries(input.headers);
  if (contentType && !headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['content-type', contentType]);
  const url = new URL(target);
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

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time with a zone, or undefined. Date.parse alone rolls impossible dates over
 * (`2026-02-30` becomes 2 March), so the calendar fields must also read back unchanged.
 */
function parseRfc3339(value: string): number | undefined {
  const fields = RFC3339.exec(value);
  if (!fields) return undefined;
  const [year, month, day, hour, minute, second] = fields.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const calendar = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const exists =
    calendar.getUTCFullYear() === year &&
    calendar.getUTCMonth() === month - 1 &&
    calendar.getUTCDate() === day &&
    calendar.getUTCHours() === hour &&
    calendar.getUTCMinutes() === minute &&
    calendar.getUTCSeconds() === second;
  const ms = exists ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** A string body is sent as is (set its content-type in headers); any other JSON value is serialised and marked application/json. */
function encodeBody(input: OutboundMessage): { body: Buffer; contentType?: string } {
  if (input.bodyBase64 !== undefined) return { body: Buffer.from(input.bodyBase64, 'base64') };
  if (input.body === undefined) return { body: Buffer.alloc(0) };
  if (typeof input.body === 'string') return { body: Buffer.from(input.body, 'utf8') };
  return { body: Buffer.from(JSON.stringify(input.body), 'utf8'), contentType: 'application/json' };
}
