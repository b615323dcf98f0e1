import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import type { LeasedMessage } from '../../store/types.js';
import type { ApiDeps } from '../deps.js';
import type { Queue } from '../../queues/registry.js';
import { readJson } from '../context.js';
import { SluiceError } from '../errors.js';
import type { RouteContext, Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { bodyFields, bodyFieldsShape, headerObject, headersViewSchema, timestampSchema } from '../views.js';

const MAX_VISIBILITY_MS = 12 * 3_600_000;
const receipts = z.array(z.string().max(200)).min(1).max(1000);

const pullSchema = z
  .object({
    max: z.number().int().min(1).max(1000).default(10),
    visibilityTimeoutMs: z.number().int().min(1).max(MAX_VISIBILITY_MS).optional().meta({ description: "Lease length; absent: the queue's" }),
    waitMs: z.number().int().min(0).max(20_000).default(0).meta({ description: 'Wait up to this long for a message to be ready' }),
  })
  .strict();
const ackSchema = z.object({ receipts }).strict();
const nackSchema = z.object({ receipts, delayMs: z.number().int().min(0).max(MAX_VISIBILITY_MS).default(0) }).strict();
const extendSchema = z.object({ receipts, visibilityTimeoutMs: z.number().int().min(1).max(MAX_VISIBILITY_MS) }).strict();

const queueParam = { queue: nameSchema };
const staleSchema = z.array(z.string()).meta({ description: 'Receipts that no longer held a lease: nothing was done with them' });
/** The errors every pull route shares: the queue must exist, be the caller's, and be a pull queue. */
const pullErrors = ['SLUICE_ERR_QUEUE_NOT_FOUND', 'SLUICE_ERR_WRONG_QUEUE_MODE'] as const;

/** One leased message, as pulledView shows it. */
const pulledMessageSchema = apiSchema(
  'PulledMessage',
  z.object({
    id: z.string(),
    receipt: z.string().meta({ description: 'Ack, nack or extend the lease with this' }),
    attempt: z.number().int().meta({ description: 'Times received, this one included' }),
    receivedAt: timestampSchema,
    method: z.string(),
    path: z.string().meta({ description: 'The sub-path the provider called under /in/{source}' }),
    query: z.string(),
    headers: headersViewSchema,
    contentType: z.string().nullable(),
    priority: z.number().int().meta({ description: '0 (least urgent) to 9 (most urgent): a lease takes the most urgent first' }),
    ...bodyFieldsShape,
  }),
);

/** Pull consumers: lease, ack, nack, extend. At-least-once; FIFO per queue. */
export function registerPullRoutes(router: Router, app: ApiDeps): void {
  const limit = app.apiBodyLimit;
  router.add('POST', '/v1/queues/:queue/pull', async (ctx) => {
    const queue = pullQueue(app, ctx);
    const input = await readJson(ctx.req, pullSchema, limit);
    const messages = await leaseWithWait(app, ctx, queue, input);
    return { status: 200, body: { messages: messages.map(pulledView) } };
  }, {
    summary: 'Lease ready messages, oldest first; long-polls with waitMs',
    tag: 'pull',
    auth: 'tenant',
    params: queueParam,
    body: pullSchema,
    response: { status: 200, schema: z.object({ messages: z.array(pulledMessageSchema) }), description: 'Leased messages; none when nothing was ready in time' },
    errors: pullErrors,
  });
  router.add('POST', '/v1/queues/:queue/ack', async (ctx) => {
    const queue = pullQueue(app, ctx);
    const input = await readJson(ctx.req, ackSchema, limit);
    return { status: 200, body: await app.store.ack(queue.name, input.receipts, app.clock.now()) };
  }, {
    summary: 'Acknowledge leased messages: done with them',
    tag: 'pull',
    auth: 'tenant',
    params: queueParam,
    body: ackSchema,
    response: { status: 200, schema: z.object({ acked: z.number().int(), stale: staleSchema }), description: 'Acknowledged' },
    errors: pullErrors,
  });
  router.add('POST', '/v1/queues/:queue/nack', async (ctx) => {
    const queue = pullQueue(app, ctx);
    const input = await readJson(ctx.req, nackSchema, limit);
    const now = app.clock.now();
    const result = await app.store.nack(queue.name, input.receipts, input.delayMs, now, queue.config.maxReceives);
    if (input.delayMs > 0) app.dueTimer.hint(now + input.delayMs);
    else if (result.requeued > 0) app.waiters.notify(queue.name);
    for (const id of result.dead) app.events.emit('dead', { id, queue: queue.name, reason: 'receives exhausted' });
    return { status: 200, body: result };
  }, {
    summary: 'Hand leased messages back, now or after delayMs',
    tag: 'pull',
    auth: 'tenant',
    params: queueParam,
    body: nackSchema,
    response: {
      status: 200,
      schema: z.object({
        requeued: z.number().int(),
        dead: z.array(z.string()).meta({ description: 'Ids of messages that had used up maxReceives and went to dead instead' }),
        stale: staleSchema,
      }),
      description: 'Handed back',
    },
    errors: pullErrors,
  });
  router.add('POST', '/v1/queues/:queue/extend', async (ctx) => {
    const queue = pullQueue(app, ctx);
    const input = await readJson(ctx.req, extendSchema, limit);
    return { status: 200, body: await app.store.extend(queue.name, input.receipts, input.visibilityTimeoutMs, app.clock.now()) };
  }, {
    summary: 'Extend the leases of messages still being worked on',
    tag: 'pull',
    auth: 'tenant',
    params: queueParam,
    body: extendSchema,
    response: { status: 200, schema: z.object({ extended: z.number().int(), stale: staleSchema }), description: 'Extended from now' },
    errors: pullErrors,
  });
}

function pullQueue(app: ApiDeps, ctx: RouteContext): Queue {
  const queue = app.queues.require(ctx.params.queue!, ctx.principal);
  if (queue.config.mode !== 'pull') throw new SluiceError('SLUICE_ERR_WRONG_QUEUE_MODE', `queue ${queue.name} is a push queue`);
  return queue;
}

/**
 * Lease now; if nothing is ready and the consumer asked to wait, park until woken or out of time.
 *
 * A consumer that hangs up costs nothing more: its waiter goes at once (the abort), nothing is leased
 * for it after it left, and a lease that raced with the hang-up goes back to ready straight away
 * instead of waiting out its visibility timeout.
 */
async function leaseWithWait(app: ApiDeps, ctx: RouteContext, queue: Queue, input: z.infer<typeof pullSchema>): Promise<LeasedMessage[]> {
  const visibility = input.visibilityTimeoutMs ?? queue.config.visibilityTimeoutMs;
  const deadline = app.clock.now() + input.waitMs;
  let gone: AbortSignal | undefined; // made only for a wait: most pulls answer at once
  for (;;) {
    const live = app.queues.get(queue.name);
    if (!live || live.config.paused || app.stopping || clientGone(ctx)) return [];
    const now = app.clock.now();
    const messages = await app.store.leaseBatch(queue.name, input.max, visibility, now);
    if (messages.length > 0 && clientGone(ctx)) return returnUnsent(app, queue, messages);
    if (messages.length > 0) {
      app.dueTimer.hint(now + visibility);
      return messages;
    }
    const remaining = deadline - app.clock.now();
    if (remaining <= 0) return [];
    gone ??= abortedOnClose(ctx);
    // Checked after the listener is in place: a hang-up during the lease above was before it.
    if (gone.aborted || clientGone(ctx)) return [];
    await app.waiters.wait(queue.name, remaining, gone);
  }
}

/** A signal that aborts when the consumer's connection closes. */
function abortedOnClose(ctx: RouteContext): AbortSignal {
  const controller = new AbortController();
  ctx.res.once('close', () => controller.abort());
  return controller.signal;
}

/** The consumer hung up (or the answer was already sent): nothing may be leased for it. */
function clientGone(ctx: RouteContext): boolean {
  return ctx.res.destroyed || ctx.res.writableEnded || ctx.req.socket.destroyed;
}

/**
 * Messages leased for a consumer that left before it could get them: ready again at once, for the
 * next consumer, and not counted as received (they were never sent).
 */
async function returnUnsent(app: ApiDeps, queue: Queue, messages: LeasedMessage[]): Promise<LeasedMessage[]> {
  const returned = await app.store.returnUnsent(queue.name, messages.map((message) => message.receipt), app.clock.now());
  if (returned > 0) app.waiters.notify(queue.name);
  return [];
}

function pulledView(message: LeasedMessage): z.output<typeof pulledMessageSchema> {
  const headers = headerObject(message.headers);
  return {
    id: message.id,
    receipt: message.receipt,
    attempt: message.attempts,
    receivedAt: new Date(message.receivedAt).toISOString(),
    method: message.method,
    path: message.path,
    query: message.query,
    headers,
    contentType: headers['content-type'] ?? null,
    priority: message.priority,
    ...bodyFields(message.body),
  };
}
