import { domainLimitSchema, nameSchema, tenantLimitSchema } from '../../config/schema.js';
import { normalizeHostKey } from '../../delivery/domain-key.js';
import type { Sluice } from '../../sluice.js';
import { requireAdmin } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';

const putDomainSchema = domainLimitSchema.refine(
  (limit) => limit.concurrency !== undefined || limit.ratePerSecond !== undefined,
  { message: 'set concurrency, ratePerSecond, or both' },
);

/** Domain and tenant limits, live: a change applies to the next dispatch, no restart. */
export function registerLimitRoutes(router: Router, app: Sluice): void {
  router.add('GET', '/v1/limits/domains', async () => {
    const limits = app.dispatcher!.limits.entries().map(([host, limit]) => ({ host, ...limit }));
    return { status: 200, body: { default: app.config.limits.defaultDomain, domains: limits } };
  });
  router.add('GET', '/v1/limits/domains/:host', async (ctx) => {
    const host = hostParam(ctx.params.host!);
    const limit = app.dispatcher!.limits.get(host);
    if (!limit) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no limit set for ${host}`);
    return { status: 200, body: { host, ...limit, effective: app.dispatcher!.limits.resolve(host) } };
  });
  router.add('PUT', '/v1/limits/domains/:host', async (ctx) => {
    requireAdmin(ctx.principal);
    const host = hostParam(ctx.params.host!);
    const limit = await readJson(ctx.req, putDomainSchema, app.apiBodyLimit);
    if (limit.burst !== undefined && limit.ratePerSecond === undefined) {
      throw new SluiceError('SLUICE_ERR_VALIDATION', 'burst: needs ratePerSecond');
    }
    await app.store.upsertDomainLimit({ key: host, ...limit });
    app.dispatcher!.setDomainLimit(host, limit);
    return { status: 200, body: { host, ...limit } };
  });
  router.add('DELETE', '/v1/limits/domains/:host', async (ctx) => {
    requireAdmin(ctx.principal);
    const host = hostParam(ctx.params.host!);
    const removed = await app.store.deleteDomainLimit(host);
    app.dispatcher!.deleteDomainLimit(host);
    if (!removed) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no limit set for ${host}`);
    return { status: 204 };
  });
  router.add('GET', '/v1/limits/tenants', async () => {
    const tenants = app.dispatcher!.tenantStates().map((state) => ({
      ...state,
      maxDepth: app.queues.tenantQuota(state.tenant)?.maxDepth ?? null,
      depth: app.queues.tenantDepth(state.tenant),
      maxStoredBytes: app.queues.tenantQuota(state.tenant)?.maxStoredBytes ?? null,
      storedBytes: app.queues.tenantStoredBytes(state.tenant),
    }));
    return { status: 200, body: { tenants } };
  });
  router.add('PUT', '/v1/limits/tenants/:tenant', async (ctx) => {
    requireAdmin(ctx.principal);
    const tenant = validate(nameSchema, ctx.params.tenant);
    const limit = await readJson(ctx.req, tenantLimitSchema, app.apiBodyLimit);
    const { concurrency, maxDepth, maxStoredBytes } = limit;
    await app.store.upsertTenant({ name: tenant, concurrency, maxDepth, maxStoredBytes, createdAt: app.clock.now() });
    app.dispatcher!.setTenantLimit(tenant, concurrency);
    app.queues.setTenantQuota(tenant, { maxDepth, maxStoredBytes });
    return { status: 200, body: { tenant, ...limit } };
  });
}

function hostParam(raw: string): string {
  try {
    return normalizeHostKey(raw);
  } catch (error) {
    throw new SluiceError('SLUICE_ERR_VALIDATION', `host: ${(error as Error).message}`);
  }
}

