import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import { ensureDefaultQueue, MAX_TENANT_NAME } from '../../queues/tenant-queues.js';
import type { ApiDeps } from '../deps.js';
import type { ApiKeyRecord } from '../../store/types.js';
import { generateKey, hashKey, requireAdmin } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';

const createSchema = z
  .object({ name: nameSchema.max(MAX_TENANT_NAME), concurrency: z.number().int().positive().max(1_000_000).optional() })
  .strict();
const keyIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a key id');
/** Characters of a key kept for display: `sk_` and four of its random part (24 bits: recognisable, not guessable). */
const KEY_PREFIX_LENGTH = 7;

/** Tenants and their API keys (admin only). A key is shown once, at creation; only its hash is stored. */
export function registerTenantRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/tenants', async (ctx) => {
    requireAdmin(ctx.principal);
    return { status: 200, body: { tenants: await app.store.listTenants() } };
  });
  router.add('POST', '/v1/tenants', async (ctx) => {
    requireAdmin(ctx.principal);
    const input = await readJson(ctx.req, createSchema, app.apiBodyLimit);
    const existing = (await app.store.listTenants()).some((tenant) => tenant.name === input.name);
    if (existing) throw new SluiceError('SLUICE_ERR_CONFLICT', `tenant ${input.name} exists`);
    const now = app.clock.now();
    await app.store.upsertTenant({ name: input.name, concurrency: input.concurrency, createdAt: now });
    app.dispatcher?.setTenantLimit(input.name, input.concurrency);
    const queue = await ensureDefaultQueue(app.queues, input.name, now);
    return { status: 201, body: { name: input.name, concurrency: input.concurrency ?? null, defaultQueue: queue.name } };
  });
  router.add('POST', '/v1/tenants/:tenant/keys', async (ctx) => {
    requireAdmin(ctx.principal);
    const tenant = await requireKnownTenant(app, ctx.params.tenant!, 'tenant', 'SLUICE_ERR_NOT_FOUND');
    const key = generateKey('sk');
    const record: ApiKeyRecord = {
      id: `key_${randomBytes(8).toString('hex')}`,
      hash: hashKey(key),
      prefix: key.slice(0, KEY_PREFIX_LENGTH),
      tenant,
      createdAt: app.clock.now(),
    };
    await app.store.addApiKey(record);
    app.auth.addTenantKey(record.hash, tenant);
    app.logger.info('api key created', { tenant, id: record.id });
    return { status: 201, body: { tenant, id: record.id, prefix: record.prefix, key, note: 'shown only this once' } };
  });
  router.add('GET', '/v1/tenants/:tenant/keys', async (ctx) => {
    requireAdmin(ctx.principal);
    const tenant = await requireKnownTenant(app, ctx.params.tenant!, 'tenant', 'SLUICE_ERR_NOT_FOUND');
    const keys = (await app.store.listApiKeys()).filter((key) => key.tenant === tenant);
    return { status: 200, body: { keys: keys.map((key) => keyView(key, app.auth.lastUsed(key.hash))) } };
  });
  router.add('DELETE', '/v1/tenants/:tenant/keys/:id', async (ctx) => {
    requireAdmin(ctx.principal);
    const tenant = validate(nameSchema, ctx.params.tenant);
    const id = validate(keyIdSchema, ctx.params.id);
    const hash = await app.store.revokeApiKey(tenant, id);
    if (hash === undefined) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `tenant ${tenant} has no key ${id}`);
    app.auth.removeTenantKey(hash);
    app.logger.info('api key revoked', { tenant, id });
    return { status: 204 };
  });
}

/** What a key listing shows: never the key, nor its hash. */
function keyView(key: ApiKeyRecord, usedSinceWritten: number | undefined): Record<string, unknown> {
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
