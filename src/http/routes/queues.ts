import { z } from 'zod';
import { nameSchema, queueConfigSchema } from '../../config/schema.js';
import type { ApiDeps } from '../deps.js';
import type { Queue } from '../../queues/registry.js';
import { checkReservedName } from '../../queues/tenant-queues.js';
import type { QueueCounts } from '../../store/types.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';
import { messageView } from '../views.js';
import { pageQuery } from './paging.js';
import { requireKnownTenant } from './tenants.js';

const deleteSchema = z.object({ force: z.enum(['true', 'false']).optional() }).strip();
const replaySchema = z.object({ ids: z.array(z.string().max(40)).min(1).max(10_000).optional() }).strict();

/** Queue definitions, pause/resume, depth, and the dead-letter queue. */
export function registerQueueRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/queues', async (ctx) => {
    const counts = await app.queues.refreshCounts();
    const visible = app.queues.all().filter((queue) => ctx.principal.kind === 'admin' || ctx.principal.tenant === queue.tenant);
    return { status: 200, body: { queues: visible.map((queue) => queueView(queue, counts.get(queue.name), app.clock.now())) } };
  });
  router.add('GET', '/v1/queues/:queue', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const counts = await app.queues.refreshCounts();
    return { status: 200, body: queueView(queue, counts.get(queue.name), app.clock.now()) };
  });
  router.add('PUT', '/v1/queues/:queue', async (ctx) => {
    const name = validate(nameSchema, ctx.params.queue);
    const existing = app.queues.get(name);
    if (existing && ctx.principal.kind === 'tenant' && existing.tenant !== ctx.principal.tenant) {
      throw new SluiceError('SLUICE_ERR_CONFLICT', `queue name ${name} is taken`);
    }
    const raw = await readJson(ctx.req, z.record(z.string(), z.unknown()), app.apiBodyLimit);
    if (ctx.principal.kind === 'tenant') raw.tenant = ctx.principal.tenant;
    const config = validate(queueConfigSchema, raw);
    if (config.url) app.refuseForbiddenTarget(config.url, app.domainOf(config.url), 'url');
    if (ctx.principal.kind === 'admin') await requireKnownTenant(app, config.tenant);
    checkReservedName(name, config.tenant);
    const queue = await app.queues.upsert(name, config, app.clock.now());
    return { status: existing ? 200 : 201, body: queueView(queue, undefined, app.clock.now()) };
  });
  router.add('DELETE', '/v1/queues/:queue', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const force = validate(deleteSchema, Object.fromEntries(ctx.query)).force === 'true';
    const users = queueUsers(app, queue.name);
    if (users.length > 0) throw new SluiceError('SLUICE_ERR_CONFLICT', `queue ${queue.name} is used by ${users.join(', ')}`);
    const deletion = await app.queues.remove(queue.name, force);
    if (!deletion.deleted) {
      throw new SluiceError('SLUICE_ERR_CONFLICT', `queue ${queue.name} holds ${deletion.pending} message(s) not yet delivered, acked or dead; add ?force=true to delete them too`, {
        extra: { pending: deletion.pending },
      });
    }
    app.waiters.notify(queue.name);
    return { status: 200, body: { name: queue.name, deleted: true, messages: deletion.messages } };
  });
  for (const action of ['pause', 'resume'] as const) {
    router.add('POST', `/v1/queues/:queue/${action}`, async (ctx) => {
      const queue = app.queues.require(ctx.params.queue!, ctx.principal);
      const updated = await app.queues.upsert(queue.name, { ...queue.config, paused: action === 'pause' }, app.clock.now());
      if (action === 'resume') app.waiters.notify(queue.name);
      return { status: 200, body: queueView(updated, undefined, app.clock.now()) };
    });
  }
  router.add('GET', '/v1/queues/:queue/dead', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const page = pageQuery(ctx.query);
    // By owner too: a message stored under this name by another tenant is never shown here.
    const messages = await app.store.listMessages({ queue: queue.name, tenant: queue.tenant, state: 'dead', limit: page.limit + 1, before: page.cursor });
    const more = messages.length > page.limit;
    const shown = messages.slice(0, page.limit);
    return { status: 200, body: { messages: shown.map((m) => messageView(m)), nextCursor: more ? shown.at(-1)!.id : null } };
  });
  router.add('POST', '/v1/queues/:queue/dead/replay', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const input = await readJson(ctx.req, replaySchema, app.apiBodyLimit);
    const result = await app.store.replayDead(queue.name, queue.tenant, input.ids, app.clock.now());
    app.waiters.notify(queue.name);
    app.dispatcher?.wakeLanes(result.lanes);
    return { status: 200, body: { replayed: result.replayed.length, ids: result.replayed } };
  });
}

/** Sources and schedules that send to a queue: it cannot be deleted under them. */
function queueUsers(app: ApiDeps, name: string): string[] {
  const sources = Object.entries(app.config.sources).filter(([, source]) => source.queue === name).map(([source]) => `source ${source}`);
  const schedules = app.schedules.list().filter((live) => live.config.message.queue === name).map((live) => `schedule ${live.record.name}`);
  return [...sources, ...schedules];
}

/** One queue with its depth by state, oldest ready age, in flight and dead. */
export function queueView(queue: Queue, counts: QueueCounts | undefined, now: number): Record<string, unknown> {
  const { url, signingSecret, ...config } = queue.config;
  const states = counts?.states;
  return {
    name: queue.name,
    ...config,
    url: url ?? null,
    signing: signingSecret !== undefined,
    depth: states ?? null,
    inFlight: states ? states.inflight + states.leased : 0,
    dead: states?.dead ?? 0,
    oldestReadyAgeMs: counts?.oldestReadyAt === undefined ? null : Math.max(0, now - counts.oldestReadyAt),
  };
}
