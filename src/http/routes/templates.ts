import { z } from 'zod';
import { templateConfigSchema } from '../../config/schema.js';
import { templateReferences } from '../../templates/render.js';
import type { TemplateEntry } from '../../templates/template-catalog.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';
import { apiSchema } from '../api-schemas.js';
import { timestampSchema } from '../views.js';
import { checkedQueue, registerDefinitionRoutes } from './tenant-definitions.js';

/**
 * Templates through the API: a webhook defined once, with `{{ vars.… }}` and `{{ secrets.… }}`,
 * owned by a tenant and named within it. `POST /v1/messages` with `{ template, vars }` and schedules
 * make messages from them. A template of sluice.yaml (tenant `default`) is shown but changed only in
 * the file, as sources are: PUT and DELETE of it answer 409 SLUICE_ERR_TEMPLATE_IN_FILE.
 */

const templateViewSchema = apiSchema(
  'Template',
  z.object({
    name: z.string(),
    tenant: z.string(),
    fromFile: z.boolean(),
    config: z.record(z.string(), z.unknown()).meta({ description: 'The template as PUT takes it, defaults filled in' }),
    vars: z.array(z.string()).meta({ description: 'The variables it uses (dotted paths): a message must give each' }),
    secrets: z.array(z.string()).meta({ description: 'The secrets it uses, filled when each message is sent' }),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  }),
);
type TemplateView = z.output<typeof templateViewSchema>;

/** Templates: create or replace, list, read, delete. */
export function registerTemplateRoutes(router: Router, app: ApiDeps): void {
  registerDefinitionRoutes(router, app, {
    kind: 'template',
    path: '/v1/templates',
    tag: 'templates',
    catalog: app.templates,
    schema: templateConfigSchema,
    view: { schema: templateViewSchema, of: templateView },
    codes: { notFound: 'SLUICE_ERR_TEMPLATE_NOT_FOUND', inFile: 'SLUICE_ERR_TEMPLATE_IN_FILE' },
    check(config, tenant) {
      checkedQueue(app, config.queue, tenant, 'templates');
      return config;
    },
    docs: {
      list: 'List templates',
      read: 'One template, with the variables and secrets it uses',
      one: 'The template',
      put: {
        summary: 'Create or replace a template',
        description:
          'Any string of `url`, header values and `body` may hold `{{ vars.a.b }}` and `{{ secrets.name }}`. In a JSON body a string that is exactly one placeholder takes the variable\'s JSON value; elsewhere values go in as text, percent-encoded in the URL\'s path and query. A secret may not stand in the URL\'s scheme, host or port. Its `queue` must be a push queue of the tenant.',
      },
      delete: { summary: 'Delete a template', description: 'Messages already made from it are not touched; schedules that name it fail their ticks until it is back.' },
    },
  });
}

function templateView(entry: TemplateEntry): TemplateView {
  const { vars, secrets } = templateReferences(entry.config);
  return {
    name: entry.name,
    tenant: entry.tenant,
    fromFile: entry.fromFile,
    config: { ...entry.config },
    vars,
    secrets,
    createdAt: new Date(entry.createdAt).toISOString(),
    updatedAt: new Date(entry.updatedAt).toISOString(),
  };
}
