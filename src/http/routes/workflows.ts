import { z } from 'zod';
import { nameSchema, templateVarsSchema, workflowConfigSchema, type WorkflowConfig } from '../../config/schema.js';
import type { TenantEntry } from '../../config/tenant-catalog.js';
import { outboundMessageSchema } from '../../queues/outbound-message.js';
import { routedWorkflows } from '../../routing/routes.js';
import { RUN_STATES, type RunRecord, type RunStep, type RunWithSteps } from '../../store/types.js';
import type { ApiDeps } from '../deps.js';
import { canAccess } from '../auth.js';
import { readJson, validate } from '../context.js';
import { checkedQueue, foundDefinition, registerDefinitionRoutes } from './tenant-definitions.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { headersViewSchema, timestampSchema } from '../views.js';
import { pageSchema } from './paging.js';
import { actingTenant, tenantQuerySchema } from './tenant-scope.js';

/**
 * Workflows through the API: ordered steps, each a request template that may read earlier steps'
 * responses, with conditions, delays, retries and branches; and their runs. A workflow of sluice.yaml
 * (tenant `default`) is shown but changed only in the file: PUT and DELETE of it answer 409.
 */

const nameParam = { name: nameSchema };
const idParam = { id: z.string().max(32).meta({ description: 'A run id' }) };
const WORKFLOW_CODES = { notFound: 'SLUICE_ERR_WORKFLOW_NOT_FOUND', inFile: 'SLUICE_ERR_WORKFLOW_IN_FILE' } as const;

const workflowViewSchema = apiSchema(
  'Workflow',
  z.object({
    name: z.string(),
    tenant: z.string(),
    fromFile: z.boolean(),
    config: z.record(z.string(), z.unknown()).meta({ description: 'The workflow as PUT takes it, defaults filled in' }),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  }),
);
type WorkflowView = z.output<typeof workflowViewSchema>;

const { deliverAt, delayMs } = outboundMessageSchema.shape;
const runInputSchema = z
  .object({
    vars: templateVarsSchema.optional(),
    deliverAt: deliverAt.meta({ description: 'Start the run at this time (RFC 3339 with a zone, or epoch ms), within a year' }),
    delayMs: delayMs.meta({ description: 'Start the run this long from now, instead of deliverAt' }),
    idempotencyKey: z.string().min(1).max(256).optional().meta({ description: 'The same key for the same workflow answers the first run, 200' }),
  })
  .strict()
  .refine((m) => m.deliverAt === undefined || m.delayMs === undefined, { message: 'give deliverAt or delayMs, not both', path: ['delayMs'] })
  .meta({ not: { required: ['deliverAt', 'delayMs'] } });

const runStateSchema = z.enum(RUN_STATES as [string, ...string[]]);
const stepViewSchema = z.object({
  seq: z.number().int().meta({ description: 'Order in the run (a loop takes a step again under a new seq)' }),
  name: z.string(),
  state: z.enum(['pending', 'succeeded', 'failed', 'skipped', 'cancelled']),
  messageId: z.string().optional(),
  attempts: z.number().int(),
  response: z.object({ status: z.number().int().optional(), headers: headersViewSchema, body: z.string().meta({ description: 'The first 64 KiB, secrets the request used taken out' }) }).optional(),
  error: z.string().optional(),
  updatedAt: timestampSchema,
});
const runSummarySchema = z.object({
  id: z.string(),
  workflow: z.string(),
  tenant: z.string(),
  state: runStateSchema,
  error: z.string().optional(),
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});
const runViewSchema = apiSchema('WorkflowRun', runSummarySchema.extend({ vars: z.unknown(), steps: z.array(stepViewSchema) }));
const runPageSchema = z.object({ runs: z.array(runSummarySchema), nextCursor: z.string().optional() });
const runListQuerySchema = pageSchema.extend({ state: runStateSchema.optional() }).extend(tenantQuerySchema.shape);
const startedSchema = z.object({ id: z.string(), state: runStateSchema });

/** Workflows (create or replace, list, read, delete) and their runs (start, list, read, cancel). */
export function registerWorkflowRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/workflows/runs/:id', async (ctx) => {
    return { status: 200, body: await runView(app, await foundRun(app, ctx.principal, ctx.params.id!)) };
  }, {
    summary: 'One run, with its steps, their states, attempts and responses',
    tag: 'workflows',
    auth: 'tenant',
    params: idParam,
    response: { status: 200, schema: runViewSchema, description: 'The run' },
    errors: ['SLUICE_ERR_RUN_NOT_FOUND'],
  });
  router.add('DELETE', '/v1/workflows/runs/:id', async (ctx) => {
    const found = await foundRun(app, ctx.principal, ctx.params.id!);
    if (found.run.state !== 'running') throw new SluiceError('SLUICE_ERR_CONFLICT', `run ${found.run.id} is ${found.run.state}: only a running run can be cancelled`);
    const state = await committing(app.logger, 'run cancel', { run: found.run.id }, () => app.workflows.cancel(found.run.id));
    if (state !== 'cancelled') throw new SluiceError('SLUICE_ERR_CONFLICT', `run ${found.run.id} is ${state ?? 'gone'}: only a running run can be cancelled`);
    app.logger.info('workflow run cancelled', { run: found.run.id, workflow: found.run.workflow, tenant: found.run.tenant });
    return { status: 200, body: { id: found.run.id, state } };
  }, {
    summary: 'Cancel a run',
    description: 'Its waiting step is cancelled with it; a step being sent right now finishes, and the run does not go on.',
    tag: 'workflows',
    auth: 'tenant',
    params: idParam,
    response: { status: 200, schema: startedSchema, description: 'Cancelled' },
    errors: ['SLUICE_ERR_RUN_NOT_FOUND', 'SLUICE_ERR_CONFLICT'],
  });
  registerDefinitionRoutes(router, app, {
    kind: 'workflow',
    path: '/v1/workflows',
    tag: 'workflows',
    catalog: app.workflows.catalog,
    schema: workflowConfigSchema,
    view: { schema: workflowViewSchema, of: workflowView },
    codes: WORKFLOW_CODES,
    check(config, tenant, name) {
      if (name === 'runs') throw new SluiceError('SLUICE_ERR_VALIDATION', 'name: "runs" cannot name a workflow', { extra: { errors: [{ field: 'name', message: '"runs" is taken by /v1/workflows/runs' }] } });
      checkedQueue(app, config.queue, tenant, 'workflow steps');
      return config;
    },
    users: (tenant, name) => workflowUsers(app, tenant, name),
    docs: {
      list: 'List workflows',
      read: 'One workflow',
      one: 'The workflow',
      put: {
        summary: 'Create or replace a workflow',
        description:
          'Steps run in order unless `onSuccess`/`onFailure` name another step or `end`. A step\'s request is a template that may use `{{ vars.… }}`, `{{ secrets.… }}` and `{{ steps.<name>.response.status | headers.<h> | body.<path> }}`; `when` skips it unless it holds. Refused with a 400 naming the step: branches to unknown steps, references to steps that cannot have run yet, loops with no delay. Runs already going keep the version they started with.',
      },
      delete: { summary: 'Delete a workflow', description: 'Runs already going finish on the version they started with. Refused (409) while a source or a schedule of the tenant starts it.' },
    },
  });
  router.add('POST', '/v1/workflows/:name/runs', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const name = foundDefinition({ kind: 'workflow', catalog: app.workflows.catalog, codes: WORKFLOW_CODES }, tenant, validate(nameSchema, ctx.params.name)).name;
    const input = await readJson(ctx.req, runInputSchema, app.apiBodyLimit);
    const started = await committing(app.logger, 'run', { workflow: name, tenant }, () => app.workflows.start(tenant, name, input, 'api'));
    return { status: started.created ? 201 : 200, body: { id: started.id, state: started.state } };
  }, {
    summary: 'Start a run',
    description: 'Its first step is stored with it (due at `deliverAt` or after `delayMs`, plus the step\'s own delay). A step whose request cannot be made (a missing variable, a forbidden target) fails the run there, or takes its onFailure branch.',
    tag: 'workflows',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    body: runInputSchema,
    response: { status: [201, 200], schema: startedSchema, description: '201: started. 200: the idempotencyKey was seen; the first run' },
    errors: ['SLUICE_ERR_WORKFLOW_NOT_FOUND'],
  });
  router.add('GET', '/v1/workflows/:name/runs', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const name = validate(nameSchema, ctx.params.name);
    const query = validate(runListQuerySchema, Object.fromEntries(ctx.query));
    const page = await app.store.listRuns({
      tenant,
      workflow: name,
      limit: query.limit,
      ...(query.state ? { state: query.state as RunRecord['state'] } : {}),
      ...(query.cursor ? { before: query.cursor } : {}),
    });
    const body: z.output<typeof runPageSchema> = { runs: page.runs.map(runSummary) };
    if (page.nextCursor !== undefined) body.nextCursor = page.nextCursor;
    return { status: 200, body };
  }, {
    summary: "A workflow's runs, newest first",
    tag: 'workflows',
    auth: 'tenant',
    params: nameParam,
    query: runListQuerySchema,
    response: { status: 200, schema: runPageSchema, description: 'One page; pass nextCursor as cursor for the next' },
  });
}

/** A run the caller may see (another tenant's reads as none). */
async function foundRun(app: ApiDeps, principal: Parameters<typeof canAccess>[0], id: string): Promise<RunWithSteps> {
  const found = /^[1-9][0-9]{0,15}$/.test(id) ? await app.store.getRun(id) : undefined;
  if (!found || !canAccess(principal, found.run.tenant)) throw new SluiceError('SLUICE_ERR_RUN_NOT_FOUND', `no run ${id}`);
  return found;
}

/** Sources and schedules of `tenant` that start a workflow: it cannot be deleted under them. */
function workflowUsers(app: ApiDeps, tenant: string, name: string): string[] {
  const sources = app.sources.list().filter((source) => source.tenant === tenant && routedWorkflows(source.config).includes(name)).map((source) => `source ${source.name}`);
  const schedules = app.schedules.list().filter((live) => live.record.tenant === tenant && live.config.workflow?.name === name).map((live) => `schedule ${live.record.name}`);
  return [...sources, ...schedules];
}

function workflowView(entry: TenantEntry<WorkflowConfig>): WorkflowView {
  return {
    name: entry.name,
    tenant: entry.tenant,
    fromFile: entry.fromFile,
    config: { ...entry.config },
    createdAt: new Date(entry.createdAt).toISOString(),
    updatedAt: new Date(entry.updatedAt).toISOString(),
  };
}

function runSummary(run: RunRecord): z.output<typeof runSummarySchema> {
  const view: z.output<typeof runSummarySchema> = {
    id: run.id,
    workflow: run.workflow,
    tenant: run.tenant,
    state: run.state,
    createdAt: new Date(run.createdAt).toISOString(),
    updatedAt: new Date(run.updatedAt).toISOString(),
  };
  if (run.error !== undefined) view.error = run.error;
  return view;
}

/** A run with its steps; a pending step shows its message's attempts so far. */
async function runView(app: ApiDeps, found: RunWithSteps): Promise<z.output<typeof runViewSchema>> {
  const steps = await Promise.all(found.steps.map((step) => stepView(app, step)));
  return { ...runSummary(found.run), vars: found.run.vars, steps };
}

async function stepView(app: ApiDeps, step: RunStep): Promise<z.output<typeof stepViewSchema>> {
  let attempts = step.attempts;
  if (step.state === 'pending' && step.messageId !== undefined) attempts = (await app.store.getMessage(step.messageId))?.attempts ?? attempts;
  const view: z.output<typeof stepViewSchema> = { seq: step.seq, name: step.name, state: step.state, attempts, updatedAt: new Date(step.updatedAt).toISOString() };
  if (step.messageId !== undefined) view.messageId = step.messageId;
  if (step.response !== undefined) view.response = step.response;
  if (step.error !== undefined) view.error = step.error;
  return view;
}
