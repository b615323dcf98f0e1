import { z } from 'zod';
import { nameSchema, queueConfigSchema } from '../../config/schema.js';
import type { ApiDeps } from '../deps.js';
import { routedQueues } from '../../routing/routes.js';
import type { Queue } from '../../queues/registry.js';
import { checkReservedName } from '../../queues/tenant-queues.js';
import { secretReference } from '../../templates/placeholders.js';
import { stepOf, type QueueCounts, type StoredMessage } from '../../store/types.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { messagePageSchema, messageStateSchema, messageView } from '../views.js';
import { pageQuery, pageSchema } from './paging.js';
import { requireKnownTenant } from './tenants.js';

const deleteSchema = z.object({ force: z.enum(['true', 'false']).optional() }).strip();
/** Dead letters one page of a replay of all of them reads and replays (see replayAll). */
const REPLAY_PAGE = 1_000;
const replaySchema = z.object({ ids: z.array(z.string().max(40)).min(1).max(10_000).optional() }).strict();
const leftDeadSchema = z.object({
  id: z.string(),
  run: z.string().meta({ description: 'The workflow run of the step' }),
  reason: z.string().meta({ description: 'Why the run cannot go on from this step' }),
});
const replayedSchema = z.object({
  replayed: z.number().int(),
  ids: z.array(z.string()),
  leftDead: z.array(leftDeadSchema).optional().meta({ description: 'Workflow steps left dead, when a replay of all left some: their runs did not fail at them' }),
});
const REPLAY_NOTE =
  "A workflow step's message is replayed only when its run failed at that step: the run is resumed there (running again, the step pending) and goes on when the step is delivered. " +
  'With `ids`, a step whose run cannot resume (it was cancelled, went on through an onFailure branch, or waits on another step) makes the whole request a 409 naming the run, and nothing is replayed. ' +
  'Without `ids`, every dead letter is replayed, newest first a page at a time, except such steps: they stay dead and are listed in `leftDead` with their run and why.';
/** What a replay did: the messages ready again, and workflow steps it left dead. */
type Replay = { replayed: string[]; leftDead: z.output<typeof leftDeadSchema>[] };
const queueParam = { queue: nameSchema };

/** A retry policy as a queue holds it: the defaults filled in, the backoff flattened. */
const retryPolicyViewSchema = z.object({
  maxAttempts: z.number().int(),
  initialMs: z.number().int(),
  maxMs: z.number().int(),
  multiplier: z.number(),
  retryOn: z.array(z.number().int()).optional(),
});

/** One queue as queueView shows it: its configuration (never the signing secret) and its depth. */
export const queueViewSchema = apiSchema(
  'Queue',
  queueConfigSchema.omit({ url: true, signingSecret: true, retry: true }).extend({
    name: z.string(),
    url: z.string().nullable(),
    retry: retryPolicyViewSchema,
    signing: z.boolean().meta({ description: 'Deliveries are signed; the secret is never shown' }),
    depth: z.record(messageStateSchema, z.number().int()).nullable().meta({ description: 'Messages by state; null in answers to a change' }),
    inFlight: z.number().int(),
    dead: z.number().int(),
    storedBytes: z.number().int().meta({ description: 'Bytes of its stored messages (body and headers), any state, until retention deletes them' }),
    oldestReadyAgeMs: z.number().nullable(),
  }),
);
type QueueView = z.output<typeof queueViewSchema>;

/** Queue definitions, pause/resume, depth, and the dead-letter queue. */
export function registerQueueRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/queues', async (ctx) => {
    const counts = await app.queues.refreshCounts();
    const visible = app.queues.all().filter((queue) => ctx.principal.kind === 'admin' || ctx.principal.tenant === queue.tenant);
    return { status: 200, body: { queues: visible.map((queue) => queueView(queue, counts.get(queue.name), app.clock.now())) } };
  }, {
    summary: 'List queues with their depth by state',
    tag: 'queues',
    auth: 'tenant',
    response: { status: 200, schema: z.object({ queues: z.array(queueViewSchema) }), description: "The caller's queues (all of them for the admin key)" },
  });
  router.add('GET', '/v1/queues/:queue', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const counts = await app.queues.refreshCounts();
    return { status: 200, body: queueView(queue, counts.get(queue.name), app.clock.now()) };
  }, {
    summary: 'One queue with its depth by state',
    tag: 'queues',
    auth: 'tenant',
    params: queueParam,
    response: { status: 200, schema: queueViewSchema, description: 'The queue' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND'],
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
    checkSigningSecret(app, config.signingSecret, config.tenant);
    const queue = await app.queues.upsert(name, config, app.clock.now());
    return { status: existing ? 200 : 201, body: queueView(queue, undefined, app.clock.now()) };
  }, {
    summary: 'Create or replace a queue',
    description: "A tenant key makes queues of its own tenant: `tenant` is set to the caller's.",
    tag: 'queues',
    auth: 'tenant',
    params: queueParam,
    body: queueConfigSchema,
    response: { status: [201, 200], schema: queueViewSchema, description: '201: created. 200: replaced' },
    errors: ['SLUICE_ERR_CONFLICT'],
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
    return { status: 200, body: { name: queue.name, deleted: true as const, messages: deletion.messages } };
  }, {
    summary: 'Delete a queue and its dead letters',
    description: 'Refused while sources or schedules send to it, or while it holds messages not yet delivered, acked or dead (unless `force=true`).',
    tag: 'queues',
    auth: 'tenant',
    params: queueParam,
    query: deleteSchema,
    response: {
      status: 200,
      schema: z.object({ name: z.string(), deleted: z.literal(true), messages: z.number().int().meta({ description: 'Messages deleted with it, in any state' }) }),
      description: 'Deleted',
    },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND', 'SLUICE_ERR_CONFLICT'],
  });
  for (const action of ['pause', 'resume'] as const) {
    router.add('POST', `/v1/queues/:queue/${action}`, async (ctx) => {
      const queue = app.queues.require(ctx.params.queue!, ctx.principal);
      const updated = await app.queues.upsert(queue.name, { ...queue.config, paused: action === 'pause' }, app.clock.now());
      if (action === 'resume') app.waiters.notify(queue.name);
      return { status: 200, body: queueView(updated, undefined, app.clock.now()) };
    }, {
      summary: action === 'pause' ? 'Pause a queue: nothing is delivered or leased until resumed' : 'Resume a paused queue',
      tag: 'queues',
      auth: 'tenant',
      params: queueParam,
      response: { status: 200, schema: queueViewSchema, description: 'The queue' },
      errors: ['SLUICE_ERR_QUEUE_NOT_FOUND'],
    });
  }
  router.add('GET', '/v1/queues/:queue/dead', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const page = pageQuery(ctx.query);
    // By owner too: a message stored under this name by another tenant is never shown here.
    const found = await app.store.listMessages({ queue: queue.name, tenant: queue.tenant, state: 'dead', limit: page.limit, before: page.cursor });
    return { status: 200, body: { messages: found.messages.map((m) => messageView(m)), nextCursor: found.nextCursor ?? null } };
  }, {
    summary: "List a queue's dead letters, newest first",
    tag: 'queues',
    auth: 'tenant',
    params: queueParam,
    query: pageSchema,
    response: { status: 200, schema: messagePageSchema, description: 'One page' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND'],
  });
  router.add('POST', '/v1/queues/:queue/dead/replay', async (ctx) => {
    const queue = app.queues.require(ctx.params.queue!, ctx.principal);
    const input = await readJson(ctx.req, replaySchema, app.apiBodyLimit);
    const done = input.ids ? await replayNamed(app, queue, input.ids) : await replayAll(app, queue);
    const body: z.output<typeof replayedSchema> = { replayed: done.replayed.length, ids: done.replayed };
    if (done.leftDead.length > 0) body.leftDead = done.leftDead;
    return { status: 200, body };
  }, {
    summary: 'Replay dead letters: the ones named, or all',
    description: REPLAY_NOTE,
    tag: 'queues',
    auth: 'tenant',
    params: queueParam,
    body: replaySchema,
    response: { status: 200, schema: replayedSchema, description: 'Ready again' },
    errors: ['SLUICE_ERR_QUEUE_NOT_FOUND', 'SLUICE_ERR_CONFLICT'],
  });
}

/** Sources and schedules that send to a queue: it cannot be deleted under them. */
function queueUsers(app: ApiDeps, name: string): string[] {
  const sources = app.sources.list().filter((source) => routedQueues(source.config).includes(name)).map((source) => `source ${source.name}`);
  const schedules = app.schedules.list().filter((live) => live.config.message?.queue === name).map((live) => `schedule ${live.record.name}`);
  return [...sources, ...schedules];
}

/** The named dead messages of a queue replayed; whoever waits for them is woken. */
async function replay(app: ApiDeps, queue: Queue, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  // By owner too: a message stored under this name by another tenant is never replayed.
  const result = await app.store.replayDead(queue.name, queue.tenant, ids, app.clock.now());
  app.waiters.notify(queue.name);
  app.dispatcher?.wakeLanes(result.lanes);
  return result.replayed;
}

/**
 * The named messages replayed, all or none: when one is a workflow step whose run cannot go on from
 * it, a 409 names the runs and nothing changes. The others' runs are resumed first, so a step
 * delivered at once finds its run waiting for it. A step not dead when read is left out of the
 * replay: had it died since, its run would have moved on without this check.
 */
async function replayNamed(app: ApiDeps, queue: Queue, ids: string[]): Promise<Replay> {
  const read = await Promise.all(ids.map((id) => app.store.getMessage(id)));
  const steps = read.filter((message): message is StoredMessage => message !== undefined && stepOf(message.origin) !== undefined);
  const unfit = new Set(steps.filter((message) => !isDeadHere(message, queue)).map((message) => message.id));
  const fit = steps.filter((message) => !unfit.has(message.id));
  const refused = (await Promise.all(fit.map((message) => app.workflows.replayCheck(message)))).filter((check) => check?.refused !== undefined);
  if (refused.length > 0) {
    throw new SluiceError('SLUICE_ERR_CONFLICT', refused.map((check) => check!.refused).join('; '), { extra: { runs: refused.map((check) => check!.runId) } });
  }
  for (const message of fit) await app.workflows.resume(message);
  return { replayed: await replay(app, queue, ids.filter((id) => !unfit.has(id))), leftDead: [] };
}

/**
 * Every dead message of a queue, newest first, REPLAY_PAGE at a time (as the dead-letter listing
 * reads them, each page bounded): in one statement, a million dead letters held the store for
 * seconds, and ingest with it. Each page is read before it is replayed, so that workflow steps whose
 * runs cannot go on from them are left dead and reported; the others' runs are resumed first.
 */
async function replayAll(app: ApiDeps, queue: Queue): Promise<Replay> {
  const done: Replay = { replayed: [], leftDead: [] };
  let before: string | undefined;
  do {
    const page = await app.store.listMessages({ queue: queue.name, tenant: queue.tenant, state: 'dead', limit: REPLAY_PAGE, before });
    const ids: string[] = [];
    for (const message of page.messages) {
      const check = await app.workflows.replayCheck(message);
      if (check?.refused !== undefined) done.leftDead.push({ id: message.id, run: check.runId, reason: check.refused });
      else if (check === undefined || (await resumed(app, message, done))) ids.push(message.id);
    }
    done.replayed.push(...(await replay(app, queue, ids)));
    before = page.nextCursor;
  } while (before !== undefined);
  return done;
}

/** Resume the run of a dead step found fit a moment ago; should it have moved meanwhile, the step is left dead and reported. */
async function resumed(app: ApiDeps, message: StoredMessage, done: Replay): Promise<boolean> {
  try {
    await app.workflows.resume(message);
    return true;
  } catch (error) {
    if (!(error instanceof SluiceError) || error.code !== 'SLUICE_ERR_CONFLICT') throw error;
    done.leftDead.push({ id: message.id, run: stepOf(message.origin)!.runId, reason: error.message });
    return false;
  }
}

/** A message that is dead in this queue, of its owner. */
function isDeadHere(message: StoredMessage, queue: Queue): boolean {
  return message.state === 'dead' && message.queue === queue.name && message.tenant === queue.tenant;
}

/** One queue with its depth by state, oldest ready age, in flight and dead. */
export function queueView(queue: Queue, counts: QueueCounts | undefined, now: number): QueueView {
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

/** A signing secret from the vault (`{{ secrets.name }}`) must be in the queue tenant's vault now; it is read at each delivery. */
function checkSigningSecret(app: ApiDeps, signingSecret: string | undefined, tenant: string): void {
  const name = signingSecret === undefined ? undefined : secretReference(signingSecret);
  if (name === undefined || app.vault.has(tenant, name)) return;
  const message = `no secret ${name} in the vault of tenant ${tenant}`;
  throw new SluiceError('SLUICE_ERR_VALIDATION', `signingSecret: ${message}`, { extra: { errors: [{ field: 'signingSecret', message }] } });
}
