import { z } from 'zod';
import { headerMapSchema, nameSchema, sourceConfigSchema, type SourceConfig } from '../../config/schema.js';
import { CONDITION_OPS } from '../../routing/conditions.js';
import { requestVars } from '../../routing/request-vars.js';
import { explainRouting, type RoutedRequest } from '../../routing/routes.js';
import type { SourceEntry } from '../../routing/source-registry.js';
import { sourceTargetProblem } from '../../routing/source-targets.js';
import { mentionsSecrets, secretReference } from '../../templates/placeholders.js';
import { SOURCE_NAME_TAKEN } from '../../store/types.js';
import type { ApiDeps } from '../deps.js';
import { canAccess, type Principal } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { requireKnownTenant } from './tenants.js';

/**
 * Sources through the API: the same shape as a source of sluice.yaml, owned by a tenant, stored
 * (surviving restarts, shared by every node of a cluster), and answering at /in/{name} at once.
 *
 * sluice.yaml and the API do not mix for sources, unlike queues (config/file-settings.ts): a source
 * the file defines is changed in the file, and PUT or DELETE of it answers 409
 * SLUICE_ERR_SOURCE_IN_FILE. Merging setting by setting, as queues do, would store the file's
 * sources too and leave a reader asking which of two routing tables is in force; a source is one
 * routing table, so one place owns it.
 */

const nameParam = { name: nameSchema };
const tenantQuerySchema = z
  .object({ tenant: nameSchema.optional().meta({ description: "Admin key only: the tenant whose sources to list, or who owns the source PUT makes (default: its owner, else `default`). A tenant key always acts as its own tenant." }) })
  .strip();
const FILE_NOTE = 'A source defined in sluice.yaml is shown (`fromFile: true`) but changed only in the file: PUT and DELETE answer 409 `SLUICE_ERR_SOURCE_IN_FILE`.';
const SECRET_NOTE = 'Verify secrets and handshake tokens are never shown: a PUT replaces the whole source, so send them again.';

const countsSchema = z
  .object({
    routes: z.record(z.string(), z.number().int()).meta({ description: 'Requests each route took, by route name (its index when it has none)' }),
    fallback: z.number().int().meta({ description: 'Requests no route matched that went to the fallback queue' }),
    unrouted: z.number().int().meta({ description: 'Requests no route matched and that had no fallback: answered, not stored' }),
  })
  .meta({ description: "This node's counts since it started (each node counts what it ingests)" });

/** One source as sourceView shows it. */
const sourceViewSchema = apiSchema(
  'Source',
  z.object({
    name: z.string(),
    tenant: z.string(),
    fromFile: z.boolean().meta({ description: 'Defined in sluice.yaml: change it there' }),
    config: z.record(z.string(), z.unknown()).meta({ description: `The source as PUT takes it, defaults filled in. ${SECRET_NOTE}` }),
    counts: countsSchema,
  }),
);
type SourceView = z.output<typeof sourceViewSchema>;

/** A dry run's request: what ingest would have received. */
const dryRunSchema = z
  .object({
    method: z
      .string()
      .regex(/^[A-Za-z]{1,16}$/, 'must be an HTTP method')
      .default('POST')
      .transform((method) => method.toUpperCase()),
    headers: headerMapSchema,
    query: z
      .union([z.string().max(8_192), z.record(z.string(), z.union([z.string(), z.array(z.string())]))])
      .optional()
      .meta({ description: 'The query string (without "?"), or an object of parameters' }),
    path: z.string().max(2_048).regex(/^\//, 'must start with /').default('/').meta({ description: 'The sub-path after /in/{name}' }),
    body: z.unknown().optional().meta({ description: 'A string is taken as the raw body text; any other JSON value as its JSON text' }),
  })
  .strict();

/** A dry run's explanation of one condition: a leaf with what it read, or a combinator and its parts. */
const explanationSchema: z.ZodType<unknown> = apiSchema(
  'ConditionExplanation',
  z.object({
    result: z.boolean(),
    path: z.string().optional(),
    op: z.enum(CONDITION_OPS).optional(),
    value: z.unknown().optional().meta({ description: 'The value as written in the condition' }),
    actual: z.unknown().optional().meta({ description: 'What the path read (long strings cut at 200 characters)' }),
    missing: z.boolean().optional().meta({ description: 'The path named nothing in the request' }),
    unreadable: z.boolean().optional().meta({ description: 'The body is not JSON: every body.* condition is false' }),
    combinator: z.enum(['all', 'any', 'not']).optional(),
    get parts() {
      return z.array(explanationSchema).optional();
    },
  }),
);

const dryRunAnswerSchema = apiSchema(
  'SourceDryRun',
  z.object({
    routes: z.array(
      z.object({
        index: z.number().int(),
        name: z.string(),
        queue: z.string().optional(),
        workflow: z.string().optional(),
        matched: z.boolean().meta({ description: 'Its `when` held (or it has none)' }),
        selected: z.boolean().meta({ description: 'It would get a message (a workflow: start a run): matched, and with `first` no earlier route did' }),
        why: explanationSchema.optional(),
      }),
    ),
    first: z.boolean(),
    fallback: z.string().optional().meta({ description: 'The fallback queue, when it would take the request' }),
    targets: z
      .array(z.object({ queue: z.string().optional(), workflow: z.string().optional(), route: z.string().optional(), fallback: z.boolean().optional() }))
      .meta({ description: 'Where messages would go and which workflows would start a run, in order; empty: the request would be answered and not stored' }),
    vars: z
      .object({ request: z.record(z.string(), z.unknown()) })
      .optional()
      .meta({ description: 'When a workflow would start: the variables its run would get (`vars.request`: method, path, headers, query, body)' }),
  }),
);

/** Sources: define, list, inspect (with this node's per-route counts), delete, and dry-run routing. */
export function registerSourceRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/sources', async (ctx) => {
    const { tenant } = validate(tenantQuerySchema, Object.fromEntries(ctx.query));
    const owner = ctx.principal.kind === 'tenant' ? ctx.principal.tenant : tenant;
    const visible = app.sources.list().filter((entry) => owner === undefined || entry.tenant === owner);
    return { status: 200, body: { sources: visible.map((entry) => sourceView(app, entry)) } };
  }, {
    summary: 'List sources with their routes and counts',
    description: `${FILE_NOTE} ${SECRET_NOTE}`,
    tag: 'sources',
    auth: 'tenant',
    query: tenantQuerySchema,
    response: { status: 200, schema: z.object({ sources: z.array(sourceViewSchema) }), description: "The caller's sources (every tenant's for the admin key)" },
  });
  router.add('GET', '/v1/sources/:name', async (ctx) => {
    return { status: 200, body: sourceView(app, visible(app, ctx.params.name!, ctx.principal)) };
  }, {
    summary: 'One source with its routes and counts',
    description: SECRET_NOTE,
    tag: 'sources',
    auth: 'tenant',
    params: nameParam,
    response: { status: 200, schema: sourceViewSchema, description: 'The source' },
    errors: ['SLUICE_ERR_SOURCE_NOT_FOUND'],
  });
  router.add('PUT', '/v1/sources/:name', async (ctx) => {
    const name = validate(nameSchema, ctx.params.name);
    const existing = app.sources.get(name);
    const tenant = await ownerFor(app, ctx.principal, existing, validate(tenantQuerySchema, Object.fromEntries(ctx.query)).tenant);
    if (existing) refuseChange(existing, ctx.principal, tenant);
    const config = checkedConfig(app, await readJson(ctx.req, z.unknown(), app.apiBodyLimit), tenant);
    const entry = await committing(app.logger, 'source', { name }, () => save(app, name, tenant, config));
    app.logger.info(existing ? 'source changed' : 'source created', { source: name, tenant });
    return { status: existing ? 200 : 201, body: sourceView(app, entry) };
  }, {
    summary: 'Create or replace a source',
    description:
      "The same shape as a source in sluice.yaml: one `queue`, one `workflow`, or `routes` (each `{ queue | workflow, when? }`, with `first` and `fallback`). It may name only the owner tenant's queues and workflows; a workflow starts a run of the owner's for each request, with the request in `vars.request` (`method`, `path`, `headers` with lower-case names, `query` with a repeated parameter as an array, `body` as JSON when it parses, else text). It answers at /in/{name} at once, on every node. " +
      FILE_NOTE,
    tag: 'sources',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    body: sourceConfigSchema,
    response: { status: [201, 200], schema: sourceViewSchema, description: '201: created. 200: replaced' },
    errors: ['SLUICE_ERR_CONFLICT', 'SLUICE_ERR_SOURCE_IN_FILE'],
  });
  router.add('DELETE', '/v1/sources/:name', async (ctx) => {
    const entry = visible(app, ctx.params.name!, ctx.principal);
    if (entry.fromFile) throw inFile(entry.name);
    await committing(app.logger, 'source', { name: entry.name }, () => app.sourceCatalog.remove(entry.name));
    app.logger.info('source deleted', { source: entry.name, tenant: entry.tenant });
    return { status: 204 };
  }, {
    summary: 'Delete a source: /in/{name} answers 404 from then on',
    description: 'Messages it already stored stay in their queues.',
    tag: 'sources',
    auth: 'tenant',
    params: nameParam,
    response: { status: 204, description: 'Deleted' },
    errors: ['SLUICE_ERR_SOURCE_NOT_FOUND', 'SLUICE_ERR_SOURCE_IN_FILE'],
  });
  router.add('POST', '/v1/sources/:name/test', async (ctx) => {
    const entry = visible(app, ctx.params.name!, ctx.principal);
    const request = routedRequest(await readJson(ctx.req, dryRunSchema, app.apiBodyLimit));
    const explanation: z.output<typeof dryRunAnswerSchema> = explainRouting(entry.config, request);
    if (explanation.targets.some((target) => target.workflow !== undefined)) explanation.vars = { request: { ...requestVars(request) } };
    return { status: 200, body: explanation };
  }, {
    summary: 'Dry run: which routes a request would take, and why',
    description: 'Every route with whether its `when` held, each condition with the value it read; when a workflow would start, the `vars` its run would get. Nothing is stored, counted, started or verified.',
    tag: 'sources',
    auth: 'tenant',
    params: nameParam,
    body: dryRunSchema,
    response: { status: 200, schema: dryRunAnswerSchema, description: 'The routes and where messages would go' },
    errors: ['SLUICE_ERR_SOURCE_NOT_FOUND'],
  });
}

/** A source the caller may see; another tenant's is answered as if it did not exist. */
function visible(app: ApiDeps, name: string, principal: Principal): SourceEntry {
  const entry = app.sources.get(name);
  if (!entry || !canAccess(principal, entry.tenant)) throw new SluiceError('SLUICE_ERR_SOURCE_NOT_FOUND', `no source ${name}`);
  return entry;
}

/** Who owns the source PUT makes: a tenant key's tenant; for the admin key `?tenant=`, else the owner it has, else `default`. */
async function ownerFor(app: ApiDeps, principal: Principal, existing: SourceEntry | undefined, asked: string | undefined): Promise<string> {
  if (principal.kind === 'tenant') return principal.tenant;
  if (asked === undefined) return existing?.tenant ?? 'default';
  return requireKnownTenant(app, asked);
}

/** An existing source the caller may not replace: another tenant's, the file's, or (admin) one of another owner. */
function refuseChange(existing: SourceEntry, principal: Principal, tenant: string): void {
  // Says nothing of whose the name is: that is the other tenant's business.
  if (!canAccess(principal, existing.tenant)) throw new SluiceError('SLUICE_ERR_CONFLICT', `source name ${existing.name} is taken`);
  if (existing.fromFile) throw inFile(existing.name);
  if (existing.tenant !== tenant) {
    throw new SluiceError('SLUICE_ERR_CONFLICT', `source ${existing.name} belongs to tenant ${existing.tenant}; delete it first to give the name to ${tenant}`);
  }
}

function inFile(name: string): SluiceError {
  return new SluiceError('SLUICE_ERR_SOURCE_IN_FILE', `source ${name} is defined in sluice.yaml: change or remove it there`);
}

/**
 * The body as a source of `tenant`: the schema's checks (400 naming each field), then its targets,
 * which must be that tenant's queues and workflows (another tenant's reads as none at all).
 */
function checkedConfig(app: ApiDeps, body: unknown, tenant: string): SourceConfig {
  const config = validate(sourceConfigSchema, body);
  const hasWorkflow = (workflow: string) => app.workflows.catalog.get(tenant, workflow) !== undefined;
  const problem = sourceTargetProblem(config, tenant, (queue) => app.queues.get(queue), hasWorkflow) ?? bodyLimitProblem(app, config) ?? vaultProblem(app, config, tenant);
  if (problem) {
    const field = problem.path.join('.');
    throw new SluiceError('SLUICE_ERR_VALIDATION', `${field}: ${problem.message}`, { extra: { errors: [{ field, message: problem.message }] } });
  }
  return config;
}

/** sluice.yaml refuses the same (config/schema.ts): a body bigger than the room for pending bodies would always be cut off. */
function bodyLimitProblem(app: ApiDeps, config: SourceConfig): { path: string[]; message: string } | undefined {
  const room = app.config.server.maxPendingBodyBytes;
  if (config.maxBodyBytes !== undefined && config.maxBodyBytes > room) return { path: ['maxBodyBytes'], message: `must not exceed server.maxPendingBodyBytes (${room})` };
  return undefined;
}

/**
 * A verify secret may be a secret of the owner's vault, `{{ secrets.name }}`, read at each request: it
 * must be there now (a typo would fail every request), and be the whole value (a vault secret inside
 * other text would be taken as that very text).
 */
function vaultProblem(app: ApiDeps, config: SourceConfig, tenant: string): { path: string[]; message: string } | undefined {
  const secret = (config.verify as { secret?: unknown } | undefined)?.secret;
  if (typeof secret !== 'string' || !mentionsSecrets(secret)) return undefined;
  const name = secretReference(secret);
  if (name === undefined) return { path: ['verify', 'secret'], message: 'a vault secret is the whole value: {{ secrets.name }}' };
  if (!app.vault.has(tenant, name)) return { path: ['verify', 'secret'], message: `no secret ${name} in the vault of tenant ${tenant}` };
  return undefined;
}

async function save(app: ApiDeps, name: string, tenant: string, config: SourceConfig): Promise<SourceEntry> {
  try {
    return await app.sourceCatalog.save(name, tenant, config, app.clock.now());
  } catch (error) {
    // Another node gave the name to another tenant since this node last heard.
    if ((error as { code?: unknown }).code === SOURCE_NAME_TAKEN) throw new SluiceError('SLUICE_ERR_CONFLICT', `source name ${name} is taken`);
    throw error;
  }
}

/** The dry run's request as ingest would have read it. */
function routedRequest(input: z.output<typeof dryRunSchema>): RoutedRequest {
  const body = input.body === undefined ? Buffer.alloc(0) : Buffer.from(typeof input.body === 'string' ? input.body : JSON.stringify(input.body), 'utf8');
  return { method: input.method, path: input.path, query: queryString(input.query), headers: Object.entries(input.headers), body };
}

function queryString(query: z.output<typeof dryRunSchema>['query']): string {
  if (query === undefined || typeof query === 'string') return (query ?? '').replace(/^\?/, '');
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) for (const item of Array.isArray(value) ? value : [value]) params.append(name, item);
  return params.toString();
}

/** A source with its counts on this node; secrets left out. */
function sourceView(app: ApiDeps, entry: SourceEntry): SourceView {
  return { name: entry.name, tenant: entry.tenant, fromFile: entry.fromFile, config: shownConfig(entry.config), counts: app.sources.countsOf(entry.name) };
}

function shownConfig(config: SourceConfig): Record<string, unknown> {
  const { verify, handshake, ...rest } = config;
  const shown: Record<string, unknown> = { ...rest };
  if (verify) {
    const { secret: _secret, ...kept } = verify as typeof verify & { secret?: unknown };
    shown.verify = kept;
  }
  if (handshake) {
    const { verifyToken: _token, ...kept } = handshake;
    shown.handshake = kept;
  }
  return shown;
}
