import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import type { ApiDeps } from '../deps.js';
import { outboundMessageSchema, toNewMessage } from '../../queues/outbound-message.js';
import { MESSAGE_STATES, type NewMessage } from '../../store/types.js';
import type { Principal } from '../auth.js';
import { canAccess } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { messageView } from '../views.js';
import { pageQuery } from './paging.js';

const batchSchema = z.object({ messages: z.array(outboundMessageSchema).min(1).max(10_000) }).strict();
const listSchema = z.object({ queue: nameSchema.optional(), state: z.enum(MESSAGE_STATES as [string, ...string[]]).optional() }).strip();

/** Outbound and scheduled webhooks: create one or a batch, inspect, list, cancel. */
export function registerMessageRoutes(router: Router, app: ApiDeps): void {
  router.add('POST', '/v1/messages', async (ctx) => {
    const input = await readJson(ctx.req, outboundMessageSchema, app.apiBodyLimit);
    const message = toNewMessage(app, ctx.principal, input, '');
    const [result] = await committing(app.logger, 'message', { queue: message.queue }, () => app.writer.appendAll([message]));
    app.events.emit('received', { queue: message.queue, origin: 'api', count: 1 });
    return { status: result!.duplicate ? 200 : 201, body: await createdView(app, result!.id, result!.deliverAt) };
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
    const found = await app.store.listMessages({ ...filter, tenant, state: filter.state as never, limit: page.limit + 1, before: page.cursor });
    const shown = found.slice(0, page.limit);
    return { status: 200, body: { messages: shown.map((m) => messageView(m)), nextCursor: found.length > page.limit ? shown.at(-1)!.id : null } };
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

async function visibleMessage(app: ApiDeps, id: string, principal: Principal) {
  const message = await app.store.getMessage(id);
  if (!message || !canAccess(principal, message.tenant)) throw new SluiceError('SLUICE_ERR_MESSAGE_NOT_FOUND', `no message ${id}`);
  return message;
}

async function createdView(app: ApiDeps, id: string, deliverAt: number) {
  const stored = await app.store.getMessage(id);
  return { id, deliverAt: new Date(stored?.deliverAt ?? deliverAt).toISOString(), state: stored?.state ?? 'scheduled' };
}
