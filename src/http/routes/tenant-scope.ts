import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import type { ApiDeps } from '../deps.js';
import type { Principal } from '../auth.js';
import { validate } from '../context.js';
import { requireKnownTenant } from './tenants.js';

/**
 * Things named per tenant (secrets, templates): two tenants may each have one called `api_token`. A
 * tenant key always acts for its own tenant; the admin key acts for `default`, or for the tenant it
 * names with `?tenant=`.
 */

export const tenantQuerySchema = z
  .object({
    tenant: nameSchema
      .optional()
      .meta({ description: 'Admin key only: the tenant to act for (default: `default`; a listing without it shows every tenant). A tenant key always acts for its own tenant.' }),
  })
  .strip();

/** The tenant a request acts for; a `?tenant=` of the admin must name a tenant that exists (400 naming it). */
export async function actingTenant(app: ApiDeps, principal: Principal, query: URLSearchParams): Promise<string> {
  if (principal.kind === 'tenant') return principal.tenant;
  const { tenant } = validate(tenantQuerySchema, Object.fromEntries(query));
  return tenant === undefined ? 'default' : requireKnownTenant(app, tenant);
}

/** The tenant whose things a listing shows: a tenant key's own; the admin's `?tenant=`, or every tenant (undefined). */
export function listedTenant(principal: Principal, query: URLSearchParams): string | undefined {
  if (principal.kind === 'tenant') return principal.tenant;
  return validate(tenantQuerySchema, Object.fromEntries(query)).tenant;
}
