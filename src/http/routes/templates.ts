import { z } from 'zod';
import { nameSchema, templateConfigSchema, type TemplateConfig } from '../../config/schema.js';
import { templateReferences } from '../../templates/render.js';
import type { TemplateEntry } from '../../templates/template-catalog.js';
import type { ApiDeps } from '../deps.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { timestampSchema } from '../views.js';
import { actingTenant, listedTenant, tenantQuerySchema } from './tenant-scope.js';

/**
 * Templates through the API: a webhook defined once, with `{{ vars.… }}` and `{{ secrets.… }}`,
 * owned by a tenant and named within it. `POST /v1/messages` with `{ template, vars }` and schedules
 * make messages from them. A template of sluice.yaml (tenant `default`) is shown but changed only in
 * the file, as sources are: PUT and DELETE of it answer 409 SLUICE_ERR_TEMPLATE_IN_FILE.
 */

const nameParam = { name: nameSchema };
const FILE_NOTE = 'A template defined in sluice.yaml (`fromFile: true`, tenant `default`) is changed only in the file: PUT and DELETE answer 409 `SLUICE_ERR_TEMPLATE_IN_FILE`.';

const templateViewSchema = apiSchema(
  'Template',
  z.object({
    name: z.string(),
    tenant: z.string(),
    fromFile: z.boolean(),
    config: z.record(z.string(), z.unknown()).meta({ description: 'The template as PUT takes it, defaults filled in' }),
    vars: z.array(z.string()).meta({ description: 'The variables it uses (dotted paths): a message must give each' }),
    secrets: z.array(z.string()).meta({ description: 'The secrets it uses, filled when each message is sent' }),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  }),
);
type TemplateView = z.output<typeof templateViewSchema>;

/** Templates: create or replace, list, read, delete. */
export function registerTemplateRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/templates', async (ctx) => {
    const tenant = listedTenant(ctx.principal, ctx.query);
    return { status: 200, body: { templates: app.templates.list(tenant).map(templateView) } };
  }, {
    summary: 'List templates',
    description: FILE_NOTE,
    tag: 'templates',
    auth: 'tenant',
    query: tenantQuerySchema,
    response: { status: 200, schema: z.object({ templates: z.array(templateViewSchema) }), description: "The caller's templates (every tenant's for the admin key without ?tenant=)" },
  });
  router.add('GET', '/v1/templates/:name', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    return { status: 200, body: templateView(found(app, tenant, validate(nameSchema, ctx.params.name))) };
  }, {
    summary: 'One template, with the variables and secrets it uses',
    tag: 'templates',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    response: { status: 200, schema: templateViewSchema, description: 'The template' },
    errors: ['SLUICE_ERR_TEMPLATE_NOT_FOUND'],
  });
  router.add('PUT', '/v1/templates/:name', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const name = validate(nameSchema, ctx.params.name);
    const existing = app.templates.get(tenant, name);
    if (existing?.fromFile) throw inFile(name);
    const config = checkedConfig(app, await readJson(ctx.req, templateConfigSchema, app.apiBodyLimit), tenant);
    const entry = await committing(app.logger, 'template', { template: name, tenant }, () => app.templates.save(tenant, name, config, app.clock.now()));
    app.logger.info(existing ? 'template changed' : 'template created', { template: name, tenant });
    return { status: existing ? 200 : 201, body: templateView(entry) };
  }, {
    summary: 'Create or replace a template',
    description:
      'Any string of `url`, header values and `body` may hold `{{ vars.a.b }}` and `{{ secrets.name }}`. In a JSON body a string that is exactly one placeholder takes the variable\'s JSON value; elsewhere values go in as text, percent-encoded in the URL\'s path and query. A secret may not stand in the URL\'s scheme, host or port. Its `queue` must be a push queue of the tenant. ' +
      FILE_NOTE,
    tag: 'templates',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    body: templateConfigSchema,
    response: { status: [201, 200], schema: templateViewSchema, description: '201: created. 200: replaced' },
    errors: ['SLUICE_ERR_TEMPLATE_IN_FILE'],
  });
  router.add('DELETE', '/v1/templates/:name', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const entry = found(app, tenant, validate(nameSchema, ctx.params.name));
    if (entry.fromFile) throw inFile(entry.name);
    await committing(app.logger, 'template', { template: entry.name, tenant }, () => app.templates.remove(tenant, entry.name));
    app.logger.info('template deleted', { template: entry.name, tenant });
    return { status: 204 };
  }, {
    summary: 'Delete a template',
    description: 'Messages already made from it are not touched; schedules that name it fail their ticks until it is back.',
    tag: 'templates',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    response: { status: 204, description: 'Deleted' },
    errors: ['SLUICE_ERR_TEMPLATE_NOT_FOUND', 'SLUICE_ERR_TEMPLATE_IN_FILE'],
  });
}

function found(app: ApiDeps, tenant: string, name: string): TemplateEntry {
  const entry = app.templates.get(tenant, name);
  if (!entry) throw new SluiceError('SLUICE_ERR_TEMPLATE_NOT_FOUND', `no template ${name}`);
  return entry;
}

function inFile(name: string): SluiceError {
  return new SluiceError('SLUICE_ERR_TEMPLATE_IN_FILE', `template ${name} is defined in sluice.yaml: change or remove it there`);
}

/** A template's queue must be a push queue of its tenant (another tenant's reads as none). */
function checkedConfig(app: ApiDeps, config: TemplateConfig, tenant: string): TemplateConfig {
  if (config.queue === undefined) return config;
  const queue = app.queues.get(config.queue);
  const problem = !queue || queue.tenant !== tenant ? `no queue named ${config.queue}` : queue.config.mode !== 'push' ? `${config.queue} is a pull queue: templates send to push queues (their secrets would go to whoever pulls)` : undefined;
  if (problem) throw new SluiceError('SLUICE_ERR_VALIDATION', `queue: ${problem}`, { extra: { errors: [{ field: 'queue', message: problem }] } });
  return config;
}

function templateView(entry: TemplateEntry): TemplateView {
  const { vars, secrets } = templateReferences(entry.config);
  return {
    name: entry.name,
    tenant: entry.tenant,
    fromFile: entry.fromFile,
    config: { ...entry.config },
    vars,
    secrets,
    createdAt: new Date(entry.createdAt).toISOString(),
    updatedAt: new Date(entry.updatedAt).toISOString(),
  };
}
