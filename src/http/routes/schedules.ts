import { z } from 'zod';
import { nameSchema, scheduleConfigSchema, scheduleFieldsSchema, type ScheduleConfig } from '../../config/schema.js';
import { defaultQueueName } from '../../queues/tenant-queues.js';
import { scheduleState, upcomingRuns, type LiveSchedule } from '../../scheduler/schedule-runner.js';
import type { ApiDeps } from '../deps.js';
import type { Principal } from '../auth.js';
import { canAccess } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { timestampSchema } from '../views.js';
import { requireKnownTenant } from './tenants.js';

const createSchema = z.object({ name: nameSchema }).passthrough();
const nameParam = { name: nameSchema };
const TEMPLATE_QUEUE_NOTE = "A template that names no queue sends to the tenant's default outbound queue.";
const TIMINGS: readonly string[] = ['cron', 'every', 'solar'];
/** What a tick does: send a message, or start a workflow run; a PATCH giving one drops the other. */
const ACTIONS: readonly string[] = ['message', 'workflow'];
const WORKFLOW_NOTE = 'Give `message` (each tick sends it) or `workflow: { name, vars }` (each tick starts a run of that workflow of the schedule\'s tenant, with those variables).';

/** One schedule as scheduleView shows it. */
const scheduleViewSchema = apiSchema(
  'Schedule',
  scheduleFieldsSchema.extend({
    name: z.string(),
    nextRunAt: timestampSchema.nullable().meta({ description: 'null while paused, and once completed' }),
    lastRunAt: timestampSchema.nullable().meta({ description: 'When a tick last sent a message' }),
    runs: z.number().int().meta({ description: 'Runs so far; skipped ticks (exclusions, missed: skip) do not count' }),
    state: z.enum(['active', 'paused', 'completed']).meta({ description: 'completed: no run left (maxRuns reached, or none before endAt)' }),
    nextRuns: z
      .array(timestampSchema)
      .optional()
      .meta({ description: 'The next 5 run times within five years (fewer near its end); empty once completed; not in a listing' }),
  }),
);
type ScheduleView = z.output<typeof scheduleViewSchema>;

/** Cron, interval and solar schedules: create, list, inspect (with the next 5 runs), patch, delete. */
export function registerScheduleRoutes(router: Router, app: ApiDeps): void {
  router.add('POST', '/v1/schedules', async (ctx) => {
    const { name, ...raw } = await readJson(ctx.req, createSchema, app.apiBodyLimit);
    // Says nothing of whose the name is: it may be another tenant's.
    if (app.schedules.get(name)) throw new SluiceError('SLUICE_ERR_CONFLICT', `schedule name ${name} is taken`);
    const config = await ownedConfig(app, withTenant(raw, ctx.principal), ctx.principal);
    const live = await committing(app.logger, 'schedule', { name }, () => app.schedules.save(name, config));
    return { status: 201, body: scheduleView(live, app.clock.now(), 5) };
  }, {
    summary: 'Create a cron, interval or solar schedule',
    description: `Give exactly one of \`cron\`, \`every\` or \`solar\`; \`exclude\`, \`startAt\`, \`endAt\` and \`maxRuns\` narrow it, read in its \`timezone\`. ${WORKFLOW_NOTE} ${TEMPLATE_QUEUE_NOTE} A tenant key makes schedules of its own tenant.`,
    tag: 'schedules',
    auth: 'tenant',
    // What the handler validates: the name, then the rest as a schedule.
    body: scheduleFieldsSchema.extend({ name: nameSchema }),
    response: { status: 201, schema: scheduleViewSchema, description: 'Created' },
    errors: ['SLUICE_ERR_CONFLICT'],
  });
  router.add('GET', '/v1/schedules', async (ctx) => {
    const tenant = ctx.principal.kind === 'tenant' ? ctx.principal.tenant : undefined;
    return { status: 200, body: { schedules: app.schedules.list(tenant).map((live) => scheduleView(live, app.clock.now(), 0)) } };
  }, {
    summary: 'List schedules',
    tag: 'schedules',
    auth: 'tenant',
    response: { status: 200, schema: z.object({ schedules: z.array(scheduleViewSchema) }), description: "The caller's schedules" },
  });
  router.add('GET', '/v1/schedules/:name', async (ctx) => {
    const live = visible(app, ctx.params.name!, ctx.principal);
    return { status: 200, body: scheduleView(live, app.clock.now(), 5) };
  }, {
    summary: 'One schedule with its next 5 run times',
    tag: 'schedules',
    auth: 'tenant',
    params: nameParam,
    response: { status: 200, schema: scheduleViewSchema, description: 'The schedule' },
    errors: ['SLUICE_ERR_SCHEDULE_NOT_FOUND'],
  });
  router.add('PATCH', '/v1/schedules/:name', async (ctx) => {
    const live = visible(app, ctx.params.name!, ctx.principal);
    const patch = await readJson(ctx.req, z.record(z.string(), z.unknown()), app.apiBodyLimit);
    const merged: Record<string, unknown> = { ...live.config, ...patch };
    // A new cron, every or solar replaces the other two; a field given as null is removed (endAt: null ends nothing).
    for (const group of [TIMINGS, ACTIONS]) {
      const given = group.filter((field) => patch[field] !== undefined && patch[field] !== null);
      if (given.length > 0) for (const other of group) if (!given.includes(other)) delete merged[other];
    }
    for (const [field, value] of Object.entries(patch)) if (value === null) delete merged[field];
    const config = await ownedConfig(app, withTenant(merged, ctx.principal, live.record.tenant), ctx.principal);
    const saved = await committing(app.logger, 'schedule', { name: live.record.name }, () =>
      app.schedules.save(live.record.name, config, live.record.createdAt),
    );
    return { status: 200, body: scheduleView(saved, app.clock.now(), 5) };
  }, {
    summary: 'Change a schedule: pause, resume, or any of its fields',
    description: `The fields given replace the stored ones, and one given as null is removed; a new \`cron\`, \`every\` or \`solar\` replaces the other two, and \`message\` and \`workflow\` replace each other. Runs counted so far stay: extending \`endAt\` or \`maxRuns\` makes a completed schedule active again. ${TEMPLATE_QUEUE_NOTE}`,
    tag: 'schedules',
    auth: 'tenant',
    params: nameParam,
    body: scheduleFieldsSchema.partial(),
    response: { status: 200, schema: scheduleViewSchema, description: 'The schedule as saved' },
    errors: ['SLUICE_ERR_SCHEDULE_NOT_FOUND'],
  });
  router.add('DELETE', '/v1/schedules/:name', async (ctx) => {
    const live = visible(app, ctx.params.name!, ctx.principal);
    await committing(app.logger, 'schedule', { name: live.record.name }, () => app.schedules.remove(live.record.name));
    return { status: 204 };
  }, {
    summary: 'Delete a schedule',
    tag: 'schedules',
    auth: 'tenant',
    params: nameParam,
    response: { status: 204, description: 'Deleted' },
    errors: ['SLUICE_ERR_SCHEDULE_NOT_FOUND'],
  });
}

function visible(app: ApiDeps, name: string, principal: Principal): LiveSchedule {
  const live = app.schedules.get(name);
  if (!live || !canAccess(principal, live.record.tenant)) throw new SluiceError('SLUICE_ERR_SCHEDULE_NOT_FOUND', `no schedule ${name}`);
  return live;
}

/** A tenant key always creates schedules of its own tenant. */
function withTenant(raw: Record<string, unknown>, principal: Principal, fallback?: string): Record<string, unknown> {
  if (principal.kind === 'tenant') return { ...raw, tenant: principal.tenant };
  return fallback !== undefined && raw.tenant === undefined ? { ...raw, tenant: fallback } : raw;
}

/**
 * Validate a schedule for its tenant: the tenant must exist (400 naming `tenant`), a template that
 * names no queue goes to the tenant's default queue, and a queue of another tenant is answered as if
 * it did not exist (a tick would be refused anyway: ScheduleRunner.fire checks the owner again). A
 * workflow is looked up in the schedule's tenant when it is saved (ScheduleRunner.save).
 */
async function ownedConfig(app: ApiDeps, raw: Record<string, unknown>, principal: Principal): Promise<ScheduleConfig> {
  const tenant = typeof raw.tenant === 'string' ? raw.tenant : 'default';
  const message = raw.message;
  const withQueue = isObject(message) && message.queue === undefined ? { ...raw, message: { ...message, queue: defaultQueueName(tenant) } } : raw;
  const config = validate(scheduleConfigSchema, withQueue);
  if (principal.kind === 'admin') await requireKnownTenant(app, config.tenant);
  if (config.message === undefined) return config;
  const queue = app.queues.get(config.message.queue);
  if (!queue || queue.tenant !== config.tenant) {
    throw new SluiceError('SLUICE_ERR_VALIDATION', `message.queue: no queue named ${config.message.queue}`, {
      extra: { errors: [{ field: 'message.queue', message: 'no such queue' }] },
    });
  }
  return config;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scheduleView(live: LiveSchedule, now: number, upcoming: number): ScheduleView {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const view: ScheduleView = {
    name: live.record.name,
    ...live.config,
    nextRunAt: live.record.paused ? null : iso(live.record.nextRunAt),
    lastRunAt: iso(live.record.lastRunAt),
    runs: live.record.runs ?? 0,
    state: scheduleState(live),
  };
  if (upcoming > 0) view.nextRuns = upcomingRuns(live, now, upcoming).map((ms) => new Date(ms).toISOString());
  return view;
}
