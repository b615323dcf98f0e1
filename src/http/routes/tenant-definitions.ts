import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import type { TenantCatalog, TenantEntry } from '../../config/tenant-catalog.js';
import type { ApiDeps } from '../deps.js';
import { readJson, validate } from '../context.js';
import { SluiceError, type ErrorCode } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { actingTenant, listedTenant, tenantQuerySchema } from './tenant-scope.js';

/**
 * The four routes of a definition named within its tenant (templates, workflows): list, read,
 * create or replace, delete. One of sluice.yaml (tenant `default`) is listed but changed only in the
 * file: PUT and DELETE of it answer 409 with the kind's in-file code.
 */

/** What one kind of definition brings to its routes. */
export interface DefinitionRoutes<C> {
  /** Singular, in messages and logs: `template`. */
  kind: string;
  /** Where its routes stand: `/v1/templates`. */
  path: string;
  tag: string;
  catalog: TenantCatalog<C>;
  /** What PUT takes. */
  schema: z.ZodType<C>;
  /** How one is shown (a named response schema, and the function that fills it). */
  view: { schema: z.ZodType<View>; of(entry: TenantEntry<C>): View };
  codes: { notFound: ErrorCode; inFile: ErrorCode };
  /** The config as it may be stored under `name` for `tenant`, else a 400 naming the field. */
  check(config: C, tenant: string, name: string): C;
  /** What uses a definition (`source x`, `schedule y`): DELETE is refused (409) while anything does. */
  users?(tenant: string, name: string): string[];
  docs: { put: { summary: string; description: string }; read: string; delete: { summary: string; description: string }; list: string; one: string };
}

/** A definition as GET shows it. */
type View = Record<string, unknown>;

export function registerDefinitionRoutes<C>(router: Router, app: ApiDeps, spec: DefinitionRoutes<C>): void {
  const { kind, path, tag, catalog, codes } = spec;
  const nameParam = { name: nameSchema };
  const fileNote = `A ${kind} defined in sluice.yaml (\`fromFile: true\`, tenant \`default\`) is changed only in the file: PUT and DELETE answer 409 \`${codes.inFile}\`.`;
  const inFile = (name: string) => new SluiceError(codes.inFile, `${kind} ${name} is defined in sluice.yaml: change or remove it there`);
  router.add('GET', path, async (ctx) => {
    const tenant = listedTenant(ctx.principal, ctx.query);
    return { status: 200, body: { [`${kind}s`]: catalog.list(tenant).map((entry) => spec.view.of(entry)) } };
  }, {
    summary: spec.docs.list,
    description: fileNote,
    tag,
    auth: 'tenant',
    query: tenantQuerySchema,
    response: { status: 200, schema: listSchema(kind, spec.view.schema), description: `The caller's ${kind}s (every tenant's for the admin key without ?tenant=)` },
  });
  router.add('GET', `${path}/:name`, async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    return { status: 200, body: spec.view.of(foundDefinition(spec, tenant, validate(nameSchema, ctx.params.name))) };
  }, {
    summary: spec.docs.read,
    tag,
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    response: { status: 200, schema: spec.view.schema, description: spec.docs.one },
    errors: [codes.notFound],
  });
  router.add('PUT', `${path}/:name`, async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const name = validate(nameSchema, ctx.params.name);
    const existing = catalog.get(tenant, name);
    if (existing?.fromFile) throw inFile(name);
    const config = spec.check(await readJson(ctx.req, spec.schema, app.apiBodyLimit), tenant, name);
    const entry = await committing(app.logger, kind, { [kind]: name, tenant }, () => catalog.save(tenant, name, config, app.clock.now()));
    app.logger.info(existing ? `${kind} changed` : `${kind} created`, { [kind]: name, tenant });
    return { status: existing ? 200 : 201, body: spec.view.of(entry) };
  }, {
    summary: spec.docs.put.summary,
    description: `${spec.docs.put.description} ${fileNote}`,
    tag,
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    body: spec.schema,
    response: { status: [201, 200], schema: spec.view.schema, description: '201: created. 200: replaced' },
    errors: [codes.inFile],
  });
  router.add('DELETE', `${path}/:name`, async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const entry = foundDefinition(spec, tenant, validate(nameSchema, ctx.params.name));
    if (entry.fromFile) throw inFile(entry.name);
    const users = spec.users?.(tenant, entry.name) ?? [];
    if (users.length > 0) throw new SluiceError('SLUICE_ERR_CONFLICT', `${kind} ${entry.name} is used by ${users.join(', ')}: change or delete them first`);
    await committing(app.logger, kind, { [kind]: entry.name, tenant }, () => catalog.remove(tenant, entry.name));
    app.logger.info(`${kind} deleted`, { [kind]: entry.name, tenant });
    return { status: 204 };
  }, {
    summary: spec.docs.delete.summary,
    description: spec.docs.delete.description,
    tag,
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    response: { status: 204, description: 'Deleted' },
    errors: [codes.notFound, codes.inFile, ...(spec.users ? (['SLUICE_ERR_CONFLICT'] as const) : [])],
  });
}

/** The caller's definition of that name, or the kind's 404. */
export function foundDefinition<C>(spec: Pick<DefinitionRoutes<C>, 'kind' | 'catalog' | 'codes'>, tenant: string, name: string): TenantEntry<C> {
  const entry = spec.catalog.get(tenant, name);
  if (!entry) throw new SluiceError(spec.codes.notFound, `no ${spec.kind} ${name}`);
  return entry;
}

/** A definition's queue must be a push queue of its tenant (another tenant's reads as none): else a 400 naming `queue`. */
export function checkedQueue(app: ApiDeps, queue: string | undefined, tenant: string, what: string): void {
  if (queue === undefined) return;
  const found = app.queues.get(queue);
  const problem = !found || found.tenant !== tenant ? `no queue named ${queue}` : found.config.mode !== 'push' ? `${queue} is a pull queue: ${what} go to push queues` : undefined;
  if (problem) throw new SluiceError('SLUICE_ERR_VALIDATION', `queue: ${problem}`, { extra: { errors: [{ field: 'queue', message: problem }] } });
}

/** `{ "<kind>s": [view, …] }`. */
function listSchema(kind: string, view: z.ZodType<View>): z.ZodType {
  return z.object({ [`${kind}s`]: z.array(view) });
}
