import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import { ensureDefaultQueue, MAX_TENANT_NAME } from '../../queues/tenant-queues.js';
import type { ApiDeps } from '../deps.js';
import type { ApiKeyRecord } from '../../store/types.js';
import { generateKey, hashKey } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';
import { timestampSchema } from '../views.js';

const createSchema = z
  .object({ name: nameSchema.max(MAX_TENANT_NAME), concurrency: z.number().int().positive().max(1_000_000).optional() })
  .strict();
const keyIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a key id');
/** Characters of a key kept for display: `sk_` and four of its random part (24 bits: recognisable, not guessable). */
const KEY_PREFIX_LENGTH = 7;
const tenantParam = { tenant: nameSchema };

const keyViewSchema = z.object({
  id: z.string(),
  prefix: z.string().nullable().meta({ description: 'The first characters of the key, to recognise it' }),
  createdAt: timestampSchema,
  lastUsedAt: timestampSchema.nullable().meta({ description: 'Within about a minute' }),
});

/** Tenants and their API keys (admin only). A key is shown once, at creation; only its hash is stored. */
export function registerTenantRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/tenants', async () => {
    return { status: 200, body: { tenants: await app.store.listTenants() } };
  }, {
    summary: 'List tenants',
    tag: 'tenants',
    auth: 'admin',
    response: {
      status: 200,
      schema: z.object({
        tenants: z.array(z.object({ name: z.string(), concurrency: z.number().int().optional(), createdAt: z.number().int().meta({ description: 'Epoch milliseconds' }) })),
      }),
      description: 'Every tenant',
    },
  });
  router.add('POST', '/v1/tenants', async (ctx) => {
    const input = await readJson(ctx.req, createSchema, app.apiBodyLimit);
    const existing = (await app.store.listTenants()).some((tenant) => tenant.name === input.name);
    if (existing) throw new SluiceError('SLUICE_ERR_CONFLICT', `tenant ${input.name} exists`);
    const now = app.clock.now();
    await app.store.upsertTenant({ name: input.name, concurrency: input.concurrency, createdAt: now });
    app.dispatcher?.setTenantLimit(input.name, input.concurrency);
    const queue = await ensureDefaultQueue(app.queues, input.name, now);
    return { status: 201, body: { name: input.name, concurrency: input.concurrency ?? null, defaultQueue: queue.name } };
  }, {
    summary: 'Create a tenant, with its default outbound queue',
    tag: 'tenants',
    auth: 'admin',
    body: createSchema,
    response: {
      status: 201,
      schema: z.object({ name: z.string(), concurrency: z.number().int().nullable(), defaultQueue: z.string() }),
      description: 'Created',
    },
    errors: ['SLUICE_ERR_CONFLICT'],
  });
  router.add('POST', '/v1/tenants/:tenant/keys', async (ctx) => {
    const tenant = await requireKnownTenant(app, ctx.params.tenant!, 'tenant', 'SLUICE_ERR_NOT_FOUND');
    const key = generateKey('sk');
    const record = {
      id: `key_${randomBytes(8).toString('hex')}`,
      hash: hashKey(key),
      prefix: key.slice(0, KEY_PREFIX_LENGTH),
      tenant,
      createdAt: app.clock.now(),
    } satisfies ApiKeyRecord;
    await app.store.addApiKey(record);
    app.auth.addTenantKey(record.hash, tenant);
    app.logger.info('api key created', { tenant, id: record.id });
    return { status: 201, body: { tenant, id: record.id, prefix: record.prefix, key, note: 'shown only this once' } };
  }, {
    summary: 'Make an API key for a tenant; the key is shown only in this answer',
    tag: 'tenants',
    auth: 'admin',
    params: tenantParam,
    response: {
      status: 201,
      schema: z.object({ tenant: z.string(), id: z.string(), prefix: z.string(), key: z.string().meta({ description: 'Only its hash is stored' }), note: z.string() }),
      description: 'Created',
    },
    errors: ['SLUICE_ERR_VALIDATION', 'SLUICE_ERR_NOT_FOUND'],
  });
  router.add('GET', '/v1/tenants/:tenant/keys', async (ctx) => {
    const tenant = await requireKnownTenant(app, ctx.params.tenant!, 'tenant', 'SLUICE_ERR_NOT_FOUND');
    const keys = (await app.store.listApiKeys()).filter((key) => key.tenant === tenant);
    return { status: 200, body: { keys: keys.map((key) => keyView(key, app.auth.lastUsed(key.hash))) } };
  }, {
    summary: "List a tenant's API keys (never the keys themselves)",
    tag: 'tenants',
    auth: 'admin',
    params: tenantParam,
    response: { status: 200, schema: z.object({ keys: z.array(keyViewSchema) }), description: 'The keys' },
    errors: ['SLUICE_ERR_VALIDATION', 'SLUICE_ERR_NOT_FOUND'],
  });
  router.add('DELETE', '/v1/tenants/:tenant/keys/:id', async (ctx) => {
    const tenant = validate(nameSchema, ctx.params.tenant);
    const id = validate(keyIdSchema, ctx.params.id);
    const hash = await app.store.revokeApiKey(tenant, id);
    if (hash === undefined) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `tenant ${tenant} has no key ${id}`);
    app.auth.removeTenantKey(hash);
    app.logger.info('api key revoked', { tenant, id });
    return { status: 204 };
  }, {
    summary: 'Revoke an API key, at once',
    tag: 'tenants',
    auth: 'admin',
    params: { ...tenantParam, id: keyIdSchema },
    response: { status: 204, description: 'Revoked' },
    errors: ['SLUICE_ERR_VALIDATION', 'SLUICE_ERR_NOT_FOUND'],
  });
}

/** What a key listing shows: never the key, nor its hash. */
function keyView(key: ApiKeyRecord, usedSinceWritten: number | undefined): z.output<typeof keyViewSchema> {
  const lastUsed = Math.max(key.lastUsedAt ?? 0, usedSinceWritten ?? 0);
  return {
    id: key.id,
    prefix: key.prefix ?? null,
    createdAt: new Date(key.createdAt).toISOString(),
    lastUsedAt: lastUsed > 0 ? new Date(lastUsed).toISOString() : null,
  };
}

/**
 * The tenant name if such a tenant exists. Queues and schedules the admin makes for a tenant that
 * does not exist are a 400 naming the field (by default), a path naming one a 404.
 */
export async function requireKnownTenant(
  app: ApiDeps,
  raw: string,
  field = 'tenant',
  code: 'SLUICE_ERR_VALIDATION' | 'SLUICE_ERR_NOT_FOUND' = 'SLUICE_ERR_VALIDATION',
): Promise<string> {
  const tenant = validate(nameSchema, raw);
  if ((await app.store.listTenants()).some((known) => known.name === tenant)) return tenant;
  throw new SluiceError(code, `${field}: no tenant ${tenant}`, code === 'SLUICE_ERR_VALIDATION' ? { extra: { errors: [{ field, message: 'no such tenant' }] } } : {});
}
