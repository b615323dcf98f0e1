import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import type { ApiDeps } from '../deps.js';
import { outboundMessageSchema, toNewMessage } from '../../queues/outbound-message.js';
import { templateMessage, templateMessageSchema } from '../../templates/template-message.js';
import { MESSAGE_STATES, stepOf, storedSize, type NewMessage, type StoredMessage } from '../../store/types.js';
import type { Principal } from '../auth.js';
import { canAccess } from '../auth.js';
import { readJson, validate, validateAll } from '../context.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { messagePageSchema, messageStateSchema, messageView, messageViewSchema, timestampSchema } from '../views.js';
import { pageQuery, pageSchema } from './paging.js';
import { actingTenant } from './tenant-scope.js';

/** A message as given (url, headers, body …), or made from a template (`{ template, vars }`): the presence of `template` decides. */
const messageInputSchema = z.union([outboundMessageSchema, templateMessageSchema]);
const batchSchema = z.object({ messages: z.array(messageInputSchema).min(1).max(10_000) }).strict();
/** The batch as read: each message is validated as the one kind it is, its errors named `messages.<i>.<field>`. */
const batchEnvelopeSchema = z.object({ messages: z.array(z.unknown()).min(1).max(10_000) }).strict();
/** `?tenant=` of the admin: whose templates messages made from one use (a message as given is owned by its queue's tenant). */
const templateTenantSchema = z
  .object({ tenant: nameSchema.optional().meta({ description: "Admin key only: the tenant whose template a `{ template }` message is made from (default: `default`). A tenant key always uses its own." }) })
  .strip();
const TEMPLATE_NOTE =
  "Or `{ template, vars }` (with `deliverAt`, `delayMs`, `priority`, `idempotencyKey`): a message made from a template of the caller's tenant (the admin's `?tenant=`, else `default`); every missing variable is a 400 naming it, its secrets are filled when it is sent.";
const listSchema = z.object({ queue: nameSchema.optional(), state: z.enum(MESSAGE_STATES as [string, ...string[]]).optional() }).strip();
const idParam = { id: z.string().meta({ description: 'A message id' }) };

const createdSchema = z.object({ id: z.string(), deliverAt: timestampSchema, state: messageStateSchema });
const batchCreatedSchema = z.object({
  messages: z.array(
    z.object({ id: z.string(), deliverAt: timestampSchema, state: z.enum(['scheduled', 'ready']), duplicate: z.boolean().meta({ description: 'An idempotencyKey seen within 24 h: the first message' }) }),
  ),
});

/** Outbound and scheduled webhooks: create one or a batch, inspect, list, cancel. */
export function registerMessageRoutes(router: Router, app: ApiDeps): void {
  router.add('POST', '/v1/messages', async (ctx) => {
    const input = await readJson(ctx.req, z.unknown(), app.apiBodyLimit);
    const [message] = await newMessages(app, ctx.principal, ctx.query, [input], () => '');
    const [result] = await committing(app.logger, 'message', { queue: message!.queue }, () => appendAdmitted(app, [message!]));
    app.events.emit('received', { queue: message!.queue, origin: 'api', count: 1 });
    return { status: result!.duplicate ? 200 : 201, body: await createdView(app, result!.id, result!.deliverAt) };
  }, {
    summary: 'Send an outbound webhook, now or at a time',
    description: TEMPLATE_NOTE,
    tag: 'messages',
    auth: 'tenant',
    query: templateTenantSchema,
    body: messageInputSchema,
    response: { status: [201, 200], schema: createdSchema, description: '201: stored. 200: the idempotencyKey was seen within 24 h; the first message, nothing new stored' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND', 'SLUICE_ERR_WRONG_QUEUE_MODE'],
  });
  router.add('POST', '/v1/messages/batch', async (ctx) => {
    const input = await readJson(ctx.req, batchEnvelopeSchema, app.apiBodyLimit);
    const messages = await newMessages(app, ctx.principal, ctx.query, input.messages, (index) => `messages.${index}.`);
    const results = await committing(app.logger, 'batch', { count: messages.length }, () => appendAdmitted(app, messages));
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
    description: `Each message as POST /v1/messages takes it. ${TEMPLATE_NOTE}`,
    tag: 'messages',
    auth: 'tenant',
    query: templateTenantSchema,
    body: batchSchema,
    response: { status: 201, schema: batchCreatedSchema, description: 'All stored, in the order given' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND', 'SLUICE_ERR_WRONG_QUEUE_MODE'],
  });
  router.add('GET', '/v1/messages', async (ctx) => {
    const page = pageQuery(ctx.query);
    const filter = validate(listSchema, Object.fromEntries(ctx.query));
    if (filter.queue) app.queues.require(filter.queue, ctx.principal);
    const tenant = ctx.principal.kind === 'tenant' ? ctx.principal.tenant : undefined;
    const found = await app.store.listMessages({ ...filter, tenant, state: filter.state as never, limit: page.limit, before: page.cursor });
    return { status: 200, body: { messages: found.messages.map((m) => messageView(m)), nextCursor: found.nextCursor ?? null } };
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
    const runId = await runWaitingOn(app, message);
    // Claimed ahead of its time but not sent: the dispatcher lets go of it, and it can still be cancelled.
    const withdrawn = app.dispatcher?.withdrawEarly(message) ?? false;
    if (runId !== undefined) {
      if (message.state !== 'scheduled' && message.state !== 'ready' && !withdrawn) throw cannotCancel(message.id, message.state);
      // The step its run waits on: run and message are cancelled in one transaction.
      await app.workflows.cancel(runId, undefined, { withdrawn });
      const after = (await app.store.getMessage(message.id))?.state;
      if (after !== 'cancelled') throw cannotCancel(message.id, after ?? 'gone');
      app.logger.info('workflow run cancelled with its step', { run: runId, message: message.id });
      return { status: 200, body: { id: message.id, state: after, run: runId } };
    }
    const state = await app.store.cancel(message.id, app.clock.now(), withdrawn);
    if (state !== 'cancelled') throw cannotCancel(message.id, state);
    return { status: 200, body: { id: message.id, state } };
  }, {
    summary: 'Cancel a message not yet delivered',
    description: "A workflow step's message: the run waiting on it is cancelled with it (`run`), so that no run waits on a message that will never be sent.",
    tag: 'messages',
    auth: 'tenant',
    params: idParam,
    response: {
      status: 200,
      schema: z.object({ id: z.string(), state: z.literal('cancelled'), run: z.string().optional().meta({ description: 'The workflow run cancelled with it' }) }),
      description: 'Cancelled',
    },
    errors: ['SLUICE_ERR_MESSAGE_NOT_FOUND', 'SLUICE_ERR_CONFLICT'],
  });
}

/**
 * The stored messages for what a request gave: each validated as a plain message or, when it names a
 * `template`, as a message made from one (in the tenant the request acts for). Every bad field of
 * every message is named (`at(i)` prefixes message i's) before any is made.
 */
async function newMessages(app: ApiDeps, principal: Principal, query: URLSearchParams, inputs: unknown[], at: (index: number) => string): Promise<NewMessage[]> {
  const templated = (input: unknown) => typeof input === 'object' && input !== null && !Array.isArray(input) && 'template' in input;
  const parsed = validateAll(inputs.map((input, index) => ({ schema: templated(input) ? templateMessageSchema : outboundMessageSchema, value: input, at: at(index) })));
  const tenant = parsed.some((_, index) => templated(inputs[index])) ? await actingTenant(app, principal, query) : undefined;
  return parsed.map((input, index) =>
    'template' in input ? templateMessage(app, tenant!, input, at(index)) : toNewMessage(app, principal, input, at(index)),
  );
}

/**
 * Commit messages within their queues' maxDepth and their tenants' quotas: room is reserved before
 * the commit and given back once it is known, so concurrent requests cannot pass a bound together.
 */
async function appendAdmitted(app: ApiDeps, messages: NewMessage[]) {
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

function cannotCancel(id: string, state: string | undefined): SluiceError {
  return new SluiceError('SLUICE_ERR_CONFLICT', `message ${id} is ${state} and can no longer be cancelled`, { extra: { state } });
}

/** The run, still running, whose pending step is this message; undefined for a message of no run or of a run that moved past it. */
async function runWaitingOn(app: ApiDeps, message: StoredMessage): Promise<string | undefined> {
  const step = stepOf(message.origin);
  if (!step) return undefined;
  const found = await app.store.getRun(step.runId);
  const waiting = found?.run.state === 'running' && found.steps.some((row) => row.state === 'pending' && row.messageId === message.id);
  return waiting ? step.runId : undefined;
}

async function visibleMessage(app: ApiDeps, id: string, principal: Principal) {
  const message = await app.store.getMessage(id);
  if (!message || !canAccess(principal, message.tenant)) throw new SluiceError('SLUICE_ERR_MESSAGE_NOT_FOUND', `no message ${id}`);
  return message;
}

async function createdView(app: ApiDeps, id: string, deliverAt: number) {
  const stored = await app.store.getMessage(id);
  return { id, deliverAt: new Date(stored?.deliverAt ?? deliverAt).toISOString(), state: stored?.state ?? 'scheduled' };
}
