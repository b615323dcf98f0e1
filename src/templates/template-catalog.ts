import { templateConfigSchema, type TemplateConfig } from '../config/schema.js';
import { TenantCatalog, type TenantEntry } from '../config/tenant-catalog.js';
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
  });
}
