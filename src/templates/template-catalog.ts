import { templateConfigSchema, type TemplateConfig } from '../config/schema.js';
import { TenantCatalog, type TenantEntry } from '../config/tenant-catalog.js';
import { storedRetryInput } from '../delivery/retry-policy.js';
import type { Store } from '../store/store.js';

/** A template as messages are made from it. */
export type TemplateEntry = TenantEntry<TemplateConfig>;

/** The templates a node makes messages from: sluice.yaml's (tenant `default`) and the API's, kept in the store. */
export type TemplateCatalog = TenantCatalog<TemplateConfig>;

export function templateCatalog(store: Pick<Store, 'upsertTemplate' | 'listTemplates' | 'deleteTemplate'>): TemplateCatalog {
  return new TenantCatalog('template', templateConfigSchema, {
    upsert: (row) => store.upsertTemplate(row),
    list: () => store.listTemplates(),
    delete: (tenant, name) => store.deleteTemplate(tenant, name),
  }, withStoredRetry);
}

/** A stored config with its retry policy back in the shape the schema reads. */
export function withStoredRetry(config: unknown): unknown {
  if (typeof config !== 'object' || config === null || !('retry' in config)) return config;
  return { ...config, retry: storedRetryInput(config.retry) };
}
