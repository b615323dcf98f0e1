import { z } from 'zod';
import { nameSchema, queueConfigSchema } from '../../config/schema.js';
import type { Sluice } from '../../sluice.js';
import type { Queue } from '../../queues/registry.js';
import type { QueueCounts } from '../../store/types.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';
import { messageView } from '../views.js';
import { pageQuery } from './paging.js';

/** Dead letters one step of a replay of all of them takes (see replayAll). */
const REPLAY_STEP = 5_000;
const replaySchema = z.object({ ids: z.array(z.string().max(40)).min(1).max(10_000).optional() }).strict();

/** Queue definitions, pause/resume, depth, and the dead-letter queue. */
export function registerQueueRoutes(router: Router, app: Sluice): void {
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
    const queue = await app.queues.upsert(name, config, app.clock.now());
    return { status: existing ? 200 : 201, body: queueView(queue, undefined, app.clock.now()) };
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
    const found = await app.store.listMessages({ queue: queue.name, state: 'dead', limit: page.limit, before: page.cursor });
    return { status: 200, body: { messages: found.messages.map((m) => messageView(m)), nextCursor: found.nextCursor ?? null } };
  });
  router.add('POST', '/v1/queues/:queue/dead/replay', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const input = await readJson(ctx.req, replaySchema, app.apiBodyLimit);
    const replayed = input.ids ? await replay(app, queue.name, input.ids) : await replayAll(app, queue.name);
    return { status: 200, body: { replayed: replayed.length, ids: replayed } };
  });
}

/** Dead messages of a queue replayed; whoever waits for them is woken. */
async function replay(app: Sluice, queue: string, ids: string[] | undefined, limit?: number): Promise<string[]> {
  const result = await app.store.replayDead(queue, ids, app.clock.now(), limit);
  app.waiters.notify(queue);
  app.dispatcher?.wakeLanes(result.lanes);
  return result.replayed;
}

/**
 * Every dead message of a queue, REPLAY_STEP at a time: in one statement, a million dead letters
 * held the store for seconds, and ingest with it.
 */
async function replayAll(app: Sluice, queue: string): Promise<string[]> {
  const replayed: string[] = [];
  for (;;) {
    const step = await replay(app, queue, undefined, REPLAY_STEP);
    replayed.push(...step);
    if (step.length < REPLAY_STEP) return replayed;
  }
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
    storedBytes: counts?.storedBytes ?? 0,
    oldestReadyAgeMs: counts?.oldestReadyAt === undefined ? null : Math.max(0, now - counts.oldestReadyAt),
  };
}
