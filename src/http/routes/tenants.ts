import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import type { Sluice } from '../../sluice.js';
import { generateKey, hashKey, requireAdmin } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';

const createSchema = z.object({ name: nameSchema, concurrency: z.number().int().positive().max(1_000_000).optional() }).strict();

/** Tenants and their API keys (admin only). A key is shown once, at creation; only its hash is stored. */
export function registerTenantRoutes(router: Router, app: Sluice): void {
  router.add('GET', '/v1/tenants', async (ctx) => {
    requireAdmin(ctx.principal);
    return { status: 200, body: { tenants: await app.store.listTenants() } };
  });
  router.add('POST', '/v1/tenants', async (ctx) => {
    requireAdmin(ctx.principal);
    const input = await readJson(ctx.req, createSchema, app.apiBodyLimit);
    const existing = (await app.store.listTenants()).some((tenant) => tenant.name === input.name);
    if (existing) throw new SluiceError('SLUICE_ERR_CONFLICT', `tenant ${input.name} exists`);
    await app.store.upsertTenant({ name: input.name, concurrency: input.concurrency, createdAt: app.clock.now() });
    app.dispatcher?.setTenantLimit(input.name, input.concurrency);
    return { status: 201, body: { name: input.name, concurrency: input.concurrency ?? null } };
  });
  router.add('POST', '/v1/tenants/:tenant/keys', async (ctx) => {
    requireAdmin(ctx.principal);
    const tenant = validate(nameSchema, ctx.params.tenant);
    if (!(await app.store.listTenants()).some((known) => known.name === tenant)) {
      throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no tenant ${tenant}`);
    }
    const key = generateKey('sk');
    const hash = hashKey(key);
    await app.store.addApiKey(hash, tenant, app.clock.now());
    app.auth.addTenantKey(hash, tenant);
    app.logger.info('api key created', { tenant, keyPrefix: key.slice(0, 10) });
    return { status: 201, body: { tenant, key, note: 'shown only this once' } };
  });
}
