import { nameSchema, templateConfigSchema, type TemplateConfig } from '../config/schema.js';
import { readStoredRow, StoredRowError } from '../config/stored-row.js';
import type { Store } from '../store/store.js';
import type { TemplateRecord } from '../store/types.js';

/** A template as messages are made from it: its definition, its owner, and where it was defined. */
export interface TemplateEntry {
  tenant: string;
  name: string;
  config: TemplateConfig;
  /** Defined in sluice.yaml (tenant `default`); false: made through the API and kept in storage. */
  fromFile: boolean;
  createdAt: number;
  updatedAt: number;
}

/**
 * The templates a node makes messages from: those of sluice.yaml (owned by the tenant `default`,
 * never stored, changed only in the file) and those made through the API (kept in the store, so they
 * survive a restart and every node of a cluster shares them). Names are per tenant. A stored
 * template of the default tenant with the name of a file template is left aside on this node, as
 * sources are (routing/source-catalog.ts).
 */
export class TemplateCatalog {
  private readonly entries = new Map<string, TemplateEntry>();

  constructor(private readonly store: Pick<Store, 'upsertTemplate' | 'listTemplates' | 'deleteTemplate'>) {}

  /** sluice.yaml's templates, at start. */
  setFileTemplates(templates: Record<string, TemplateConfig>, now: number): void {
    for (const [name, config] of Object.entries(templates)) {
      this.entries.set(keyOf('default', name), { tenant: 'default', name, config, fromFile: true, createdAt: now, updatedAt: now });
    }
  }

  /**
   * At start: every stored template, read back through the schema (a row this version cannot read
   * stops the start, naming it). Returns the names left aside because sluice.yaml defines them.
   */
  async load(): Promise<string[]> {
    const shadowed: string[] = [];
    for (const record of await this.store.listTemplates()) {
      const entry = entryOf(record);
      if (this.entries.get(keyOf(entry.tenant, entry.name))?.fromFile) shadowed.push(entry.name);
      else this.entries.set(keyOf(entry.tenant, entry.name), entry);
    }
    return shadowed;
  }

  /** Another node changed the stored templates: take them as stored; a row this version cannot read is reported and left as it was. */
  async reload(): Promise<StoredRowError[]> {
    const unreadable: StoredRowError[] = [];
    const stored = new Set<string>();
    for (const record of await this.store.listTemplates()) {
      const key = keyOf(record.tenant, record.name);
      stored.add(key);
      if (this.entries.get(key)?.fromFile) continue;
      try {
        this.entries.set(key, entryOf(record));
      } catch (error) {
        if (!(error instanceof StoredRowError)) throw error;
        unreadable.push(error);
      }
    }
    for (const [key, entry] of this.entries) if (!entry.fromFile && !stored.has(key)) this.entries.delete(key);
    return unreadable;
  }

  get(tenant: string, name: string): TemplateEntry | undefined {
    return this.entries.get(keyOf(tenant, name));
  }

  /** One tenant's templates (every tenant's without one), by tenant and name. */
  list(tenant?: string): TemplateEntry[] {
    return [...this.entries.values()]
      .filter((entry) => tenant === undefined || entry.tenant === tenant)
      .sort((a, b) => compare(a.tenant, b.tenant) || compare(a.name, b.name));
  }

  /** Store a template (made or replaced) and make messages from it from now on. */
  async save(tenant: string, name: string, config: TemplateConfig, now: number): Promise<TemplateEntry> {
    const existing = this.get(tenant, name);
    const entry: TemplateEntry = { tenant, name, config, fromFile: false, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await this.store.upsertTemplate({ tenant, name, config, createdAt: entry.createdAt, updatedAt: now });
    this.entries.set(keyOf(tenant, name), entry);
    return entry;
  }

  /** Delete a stored template; false when none was stored. Messages already made from it are not touched. */
  async remove(tenant: string, name: string): Promise<boolean> {
    const deleted = await this.store.deleteTemplate(tenant, name);
    if (!this.entries.get(keyOf(tenant, name))?.fromFile) this.entries.delete(keyOf(tenant, name));
    return deleted;
  }
}

/** A stored template as the catalog holds it; a StoredRowError names a row this version cannot read. */
function entryOf(record: TemplateRecord): TemplateEntry {
  const what = `stored template "${record.name}" of tenant "${record.tenant}"`;
  const tenant = readStoredRow(nameSchema, record.tenant, what);
  const name = readStoredRow(nameSchema, record.name, what);
  return { tenant, name, config: readStoredRow(templateConfigSchema, record.config, what), fromFile: false, createdAt: record.createdAt, updatedAt: record.updatedAt };
}

/** NUL cannot occur in a tenant or template name. */
function keyOf(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
