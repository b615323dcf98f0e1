import { z } from 'zod';
import { nameSchema } from '../../config/schema.js';
import type { SecretInfo } from '../../secrets/vault.js';
import type { ApiDeps } from '../deps.js';
import { readJson, validate } from '../context.js';
import { SluiceError } from '../errors.js';
import { committing } from '../storage-failure.js';
import type { Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { timestampSchema } from '../views.js';
import { actingTenant, listedTenant, tenantQuerySchema } from './tenant-scope.js';

/**
 * The vault through the API: put, list, delete, and rotate the vault key. A value goes in and never
 * comes out: no answer, log line or dashboard view holds one. Templates name secrets as
 * `{{ secrets.name }}`; queues sign with one (`signingSecret`), sources verify with one.
 */

/** The most characters a secret may have: tokens and keys, not documents. */
export const MAX_SECRET_CHARS = 65_536;

const nameParam = { name: nameSchema };
const putSchema = z
  .object({ value: z.string().min(1, 'must not be empty').max(MAX_SECRET_CHARS, `must be at most ${MAX_SECRET_CHARS} characters`).meta({ description: 'The secret; sealed at once, never shown again' }) })
  .strict();

const secretViewSchema = apiSchema(
  'Secret',
  z.object({
    name: z.string(),
    tenant: z.string(),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
    keyVersion: z.string().meta({ description: 'The version (fingerprint) of the vault key that sealed it' }),
  }),
);

const rotationSchema = z.object({
  keyVersion: z.string().meta({ description: 'The version of the key every secret is now sealed under' }),
  generated: z.boolean().meta({ description: 'A new key was made in the data dir; false: the key is SLUICE_SECRET_KEY' }),
  resealed: z.number().int().meta({ description: 'Secrets re-sealed by this call' }),
  remaining: z.number().int().meta({ description: 'Secrets still under another key (one this node does not hold): give it in SLUICE_SECRET_KEY_PREVIOUS and call again' }),
});

const VALUE_NOTE = 'Values are never shown: not here, not in any other answer, log line or dashboard view.';

/** Secrets: put (create or replace), list, read (never the value), delete; rotate the vault key. */
export function registerSecretRoutes(router: Router, app: ApiDeps): void {
  router.add('POST', '/v1/secrets/rotate-key', async () => {
    const rotation = await committing(app.logger, 'vault key rotation', {}, () => app.vault.rotateKey());
    app.logger.info('vault key rotated', { ...rotation });
    return { status: 200, body: rotation };
  }, {
    summary: 'Re-seal every secret under the current vault key',
    description:
      'With a key file in the data dir (SQLite, no SLUICE_SECRET_KEY), a new key is made, every secret is re-sealed under it, and the old key leaves the file. With SLUICE_SECRET_KEY, set the new key there and the old one in SLUICE_SECRET_KEY_PREVIOUS on every node first: this re-seals what is still under the old one.',
    tag: 'secrets',
    auth: 'admin',
    response: { status: 200, schema: rotationSchema, description: 'Re-sealed' },
  });
  router.add('GET', '/v1/secrets', async (ctx) => {
    const tenant = listedTenant(ctx.principal, ctx.query);
    return { status: 200, body: { secrets: app.vault.list(tenant).map(secretView) } };
  }, {
    summary: 'List secrets: names and times, never values',
    description: VALUE_NOTE,
    tag: 'secrets',
    auth: 'tenant',
    query: tenantQuerySchema,
    response: { status: 200, schema: z.object({ secrets: z.array(secretViewSchema) }), description: "The caller's secrets (every tenant's for the admin key without ?tenant=)" },
  });
  router.add('GET', '/v1/secrets/:name', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const name = validate(nameSchema, ctx.params.name);
    return { status: 200, body: secretView(found(app, tenant, name)) };
  }, {
    summary: 'One secret: its name and times, never its value',
    description: VALUE_NOTE,
    tag: 'secrets',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    response: { status: 200, schema: secretViewSchema, description: 'The secret' },
    errors: ['SLUICE_ERR_SECRET_NOT_FOUND'],
  });
  router.add('PUT', '/v1/secrets/:name', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const name = validate(nameSchema, ctx.params.name);
    const { value } = await readJson(ctx.req, putSchema, app.apiBodyLimit);
    const created = await committing(app.logger, 'secret', { secretName: name, tenant }, () => app.vault.put(tenant, name, value));
    app.logger.info(created ? 'secret created' : 'secret replaced', { secretName: name, tenant });
    return { status: 204 };
  }, {
    summary: 'Create or replace a secret',
    description: `Sealed with AES-256-GCM under the vault key before it is stored. Messages already waiting are sent with the new value. ${VALUE_NOTE}`,
    tag: 'secrets',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    body: putSchema,
    response: { status: 204, description: 'Stored' },
  });
  router.add('DELETE', '/v1/secrets/:name', async (ctx) => {
    const tenant = await actingTenant(app, ctx.principal, ctx.query);
    const name = validate(nameSchema, ctx.params.name);
    found(app, tenant, name);
    await committing(app.logger, 'secret', { secretName: name, tenant }, () => app.vault.remove(tenant, name));
    app.logger.info('secret deleted', { secretName: name, tenant });
    return { status: 204 };
  }, {
    summary: 'Delete a secret',
    description: 'Messages waiting to be sent with it go to dead when their time comes, with an error that names it.',
    tag: 'secrets',
    auth: 'tenant',
    params: nameParam,
    query: tenantQuerySchema,
    response: { status: 204, description: 'Deleted' },
    errors: ['SLUICE_ERR_SECRET_NOT_FOUND'],
  });
}

function found(app: ApiDeps, tenant: string, name: string): SecretInfo {
  const secret = app.vault.get(tenant, name);
  if (!secret) throw new SluiceError('SLUICE_ERR_SECRET_NOT_FOUND', `no secret ${name}`);
  return secret;
}

function secretView(secret: SecretInfo): z.output<typeof secretViewSchema> {
  return {
    name: secret.name,
    tenant: secret.tenant,
    createdAt: new Date(secret.createdAt).toISOString(),
    updatedAt: new Date(secret.updatedAt).toISOString(),
    keyVersion: secret.keyVersion,
  };
}
