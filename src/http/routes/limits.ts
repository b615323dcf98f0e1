import { z } from 'zod';
import { domainLimitSchema, nameSchema, tenantLimitSchema } from '../../config/schema.js';
import { HostRules, normalizeHostKey } from '../../delivery/domain-key.js';
import { ensureDefaultQueue, MAX_TENANT_NAME } from '../../queues/tenant-queues.js';
import type { ApiDeps } from '../deps.js';
import type { Principal } from '../auth.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import type { Router } from '../router.js';

const putDomainSchema = domainLimitSchema.refine(
  (limit) => limit.concurrency !== undefined || limit.ratePerSecond !== undefined,
  { message: 'set concurrency, ratePerSecond, or both' },
);

const hostPathParam = {
  host: z.string().meta({ description: 'A host, or host:port for a non-default port; the most specific key that matches a destination wins' }),
};
const hostLimitSchema = domainLimitSchema.extend({ host: z.string() });
const tenantStateSchema = z.object({
  tenant: z.string(),
  inFlight: z.number().int(),
  concurrency: z.number().int().nullable().meta({ description: 'null: no limit of its own' }),
  maxDepth: z.number().int().nullable().meta({ description: 'Quota of waiting messages; null: none' }),
  depth: z.number().int().meta({ description: 'Messages waiting in all its queues' }),
  maxStoredBytes: z.number().int().nullable().meta({ description: 'Quota of stored bytes; null: none' }),
  storedBytes: z.number().int().meta({ description: 'Bytes of all its stored messages' }),
});

/** Domain and tenant limits, live: a change applies to the next dispatch, no restart. */
export function registerLimitRoutes(router: Router, app: ApiDeps): void {
  router.add('GET', '/v1/limits/domains', async (ctx) => {
    const visible = visibleLimitKeys(app, ctx.principal);
    const limits = app.dispatcher!.limits
      .entries()
      .filter(([host]) => !visible || visible.has(host))
      .map(([host, limit]) => ({ host, ...limit }));
    return { status: 200, body: { default: app.config.limits.defaultDomain, domains: limits } };
  }, {
    summary: 'List domain limits',
    description: 'A tenant key sees only the limits that apply to its own traffic.',
    tag: 'limits',
    auth: 'tenant',
    response: {
      status: 200,
      schema: z.object({ default: domainLimitSchema.meta({ description: 'For a domain no key matches' }), domains: z.array(hostLimitSchema) }),
      description: 'The limits',
    },
  });
  router.add('GET', '/v1/limits/domains/:host', async (ctx) => {
    const host = hostParam(ctx.params.host!);
    const limit = app.dispatcher!.limits.get(host);
    const visible = visibleLimitKeys(app, ctx.principal);
    if (!limit || (visible && !visible.has(host))) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no limit set for ${host}`);
    return { status: 200, body: { host, ...limit, effective: app.dispatcher!.limits.resolve(host) } };
  }, {
    summary: 'One domain limit, and the limit in effect with the defaults filled in',
    tag: 'limits',
    auth: 'tenant',
    params: hostPathParam,
    response: {
      status: 200,
      schema: hostLimitSchema.extend({
        effective: z.object({ concurrency: z.number().int(), ratePerSecond: z.number().optional(), burst: z.number().int() }),
      }),
      description: 'The limit',
    },
    errors: ['SLUICE_ERR_VALIDATION', 'SLUICE_ERR_NOT_FOUND'],
  });
  router.add('PUT', '/v1/limits/domains/:host', async (ctx) => {
    const host = hostParam(ctx.params.host!);
    const limit = await readJson(ctx.req, putDomainSchema, app.apiBodyLimit);
    if (limit.burst !== undefined && limit.ratePerSecond === undefined) {
      throw new SluiceError('SLUICE_ERR_VALIDATION', 'burst: needs ratePerSecond');
    }
    await app.store.upsertDomainLimit({ key: host, ...limit });
    app.logger.info('limit changed', { domain: host, from: app.dispatcher!.limits.get(host) ?? null, to: limit, by: 'api' });
    app.dispatcher!.setDomainLimit(host, limit);
    return { status: 200, body: { host, ...limit } };
  }, {
    summary: 'Set the limit of a domain, live',
    tag: 'limits',
    auth: 'admin',
    params: hostPathParam,
    body: putDomainSchema,
    response: { status: 200, schema: hostLimitSchema, description: 'Applies from the next dispatch' },
  });
  router.add('DELETE', '/v1/limits/domains/:host', async (ctx) => {
    const host = hostParam(ctx.params.host!);
    const removed = await app.store.deleteDomainLimit(host);
    if (removed) app.logger.info('limit changed', { domain: host, from: app.dispatcher!.limits.get(host) ?? null, to: null, by: 'api' });
    app.dispatcher!.deleteDomainLimit(host);
    if (!removed) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no limit set for ${host}`);
    return { status: 204 };
  }, {
    summary: "Remove a domain's limit: the defaults apply again",
    tag: 'limits',
    auth: 'admin',
    params: hostPathParam,
    response: { status: 204, description: 'Removed' },
    errors: ['SLUICE_ERR_VALIDATION', 'SLUICE_ERR_NOT_FOUND'],
  });
  router.add('GET', '/v1/limits/tenants', async (ctx) => {
    const states = app.dispatcher!.tenantStates();
    if (ctx.principal.kind === 'admin') return { status: 200, body: { tenants: states.map((state) => withQuotas(app, state)) } };
    const own = ctx.principal.tenant;
    const mine = states.find((state) => state.tenant === own) ?? (await storedTenantState(app, own));
    return { status: 200, body: { tenants: [withQuotas(app, mine)] } };
  }, {
    summary: 'Tenant concurrency limits and quotas, with what each has in flight, waiting and stored',
    description: 'A tenant key sees its own tenant only.',
    tag: 'limits',
    auth: 'tenant',
    response: { status: 200, schema: z.object({ tenants: z.array(tenantStateSchema) }), description: 'The tenants' },
  });
  router.add('PUT', '/v1/limits/tenants/:tenant', async (ctx) => {
    const tenant = validate(nameSchema.max(MAX_TENANT_NAME), ctx.params.tenant);
    const limit = await readJson(ctx.req, tenantLimitSchema, app.apiBodyLimit);
    const { concurrency, maxDepth, maxStoredBytes } = limit;
    await app.store.upsertTenant({ name: tenant, concurrency, maxDepth, maxStoredBytes, createdAt: app.clock.now() });
    const from = app.dispatcher!.tenantStates().find((state) => state.tenant === tenant)?.concurrency ?? null;
    app.logger.info('limit changed', { tenant, from: { concurrency: from }, to: limit, by: 'api' });
    app.dispatcher!.setTenantLimit(tenant, concurrency);
    app.queues.setTenantQuota(tenant, { maxDepth, maxStoredBytes });
    // A limit may be the first the node hears of a tenant: it gets its default queue as POST /v1/tenants gives one.
    await ensureDefaultQueue(app.queues, tenant, app.clock.now());
    return { status: 200, body: { tenant, ...limit } };
  }, {
    summary: "Set a tenant's concurrency limit, live",
    tag: 'limits',
    auth: 'admin',
    params: { tenant: nameSchema },
    body: tenantLimitSchema,
    response: { status: 200, schema: tenantLimitSchema.extend({ tenant: z.string() }), description: 'Applies from the next dispatch' },
  });
}

/** A tenant that has sent nothing yet is not in the dispatcher: its stored limit, nothing in flight. */
/** A tenant's quotas and how much of them it uses, beside its concurrency. */
function withQuotas(app: ApiDeps, state: { tenant: string; inFlight: number; concurrency: number | null }) {
  const quota = app.queues.tenantQuota(state.tenant);
  return {
    ...state,
    maxDepth: quota?.maxDepth ?? null,
    depth: app.queues.tenantDepth(state.tenant),
    maxStoredBytes: quota?.maxStoredBytes ?? null,
    storedBytes: app.queues.tenantStoredBytes(state.tenant),
  };
}

async function storedTenantState(app: ApiDeps, tenant: string) {
  const stored = (await app.store.listTenants()).find((known) => known.name === tenant);
  return { tenant, inFlight: 0, concurrency: stored?.concurrency ?? null };
}

/**
 * The domain limits a principal may see: all for the admin (undefined); for a tenant, the limits that
 * apply to its own traffic — the rule that matches each domain of its queues' urls and of the
 * deliveries it has waiting in the dispatcher. Other limits would tell it where other tenants send.
 */
function visibleLimitKeys(app: ApiDeps, principal: Principal): Set<string> | undefined {
  if (principal.kind === 'admin') return undefined;
  const domains = new Set<string>();
  for (const queue of app.queues.all()) {
    if (queue.tenant !== principal.tenant || !queue.config.url) continue;
    domains.add(app.domainOf(queue.config.url));
  }
  for (const domain of app.dispatcher!.domainStates()) {
    if (domain.lanes().some((lane) => lane.tenant === principal.tenant)) domains.add(domain.key);
  }
  const rules = new HostRules(app.dispatcher!.limits.entries().map(([host]) => [host, host] as [string, string]));
  const visible = new Set<string>();
  for (const domain of domains) {
    const key = rules.match(domain);
    if (key !== undefined) visible.add(key);
  }
  return visible;
}

function hostParam(raw: string): string {
  try {
    return normalizeHostKey(raw);
  } catch (error) {
    throw new SluiceError('SLUICE_ERR_VALIDATION', `host: ${(error as Error).message}`);
  }
}

