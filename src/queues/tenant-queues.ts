import { queueConfigSchema } from '../config/schema.js';
import type { Principal } from '../http/auth.js';
import { SluiceError } from '../http/errors.js';
import type { Queue, QueueRegistry } from './registry.js';

/** The push queue the default tenant's messages go to when they name none (made by the config loader). */
export const DEFAULT_OUTBOUND_QUEUE = 'outbound';
const TENANT_OUTBOUND_PREFIX = 'outbound.';

/**
 * Each tenant's default outbound push queue: `outbound` for the tenant `default`, `outbound.<tenant>`
 * for every other. `POST /v1/messages` and schedules that name no queue use it, so a tenant key
 * sends exactly as the admin's does. Names starting `outbound.` are kept for these queues.
 */
export function defaultQueueName(tenant: string): string {
  return tenant === 'default' ? DEFAULT_OUTBOUND_QUEUE : `${TENANT_OUTBOUND_PREFIX}${tenant}`;
}

/** The tenant a principal acts for (the admin acts for `default` unless it names another). */
export function tenantOf(principal: Principal): string {
  return principal.kind === 'tenant' ? principal.tenant : 'default';
}

/** Queue names are at most 128 characters, so a tenant name must leave room for the `outbound.` prefix. */
export const MAX_TENANT_NAME = 128 - TENANT_OUTBOUND_PREFIX.length;

/**
 * `outbound.<t>` may be created only for tenant t (by the admin or t itself): nobody can take another
 * tenant's default queue name before that tenant is created.
 */
export function checkReservedName(name: string, tenant: string): void {
  if (!name.startsWith(TENANT_OUTBOUND_PREFIX) || name === defaultQueueName(tenant)) return;
  throw new SluiceError('SLUICE_ERR_VALIDATION', `name: queue names starting "${TENANT_OUTBOUND_PREFIX}" are kept for tenants' default queues`, {
    extra: { errors: [{ field: 'name', message: 'reserved prefix' }] },
  });
}

/**
 * Make sure a tenant has its default outbound queue (a push queue without a url: messages name their
 * own). An existing queue of that name is left as it is; one owned by another tenant is a 409.
 */
export async function ensureDefaultQueue(queues: QueueRegistry, tenant: string, now: number): Promise<Queue> {
  const name = defaultQueueName(tenant);
  const existing = queues.get(name);
  if (existing?.tenant === tenant) return existing;
  if (existing) throw new SluiceError('SLUICE_ERR_CONFLICT', `queue name ${name}, this tenant's default queue, is taken`);
  return queues.upsert(name, queueConfigSchema.parse({ mode: 'push', tenant }), now);
}
