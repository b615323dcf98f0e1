import { nameSchema, sourceConfigSchema } from '../config/schema.js';
import { readStoredRow, StoredRowError } from '../config/stored-row.js';
import type { Store } from '../store/store.js';
import type { SourceRecord } from '../store/types.js';
import type { SourceEntry, SourceRegistry } from './source-registry.js';

/**
 * Sources made through the API: kept in the store (so they survive a restart and every node of a
 * cluster shares them) and held in the node's SourceRegistry, which ingest reads. sluice.yaml's
 * sources are never stored: they stay in the registry as the file says, and a stored source of the
 * same name (made through another node whose file lacks it) is left aside on this node.
 */
export class SourceCatalog {
  constructor(
    private readonly store: Pick<Store, 'upsertSource' | 'listSources' | 'deleteSource'>,
    private readonly registry: SourceRegistry,
  ) {}

  /**
   * At start: every stored source, read back through the schema. A row this version cannot read
   * stops the start (StoredRowError naming it): dropping it would leave its senders answered 404.
   * Returns the names left aside because sluice.yaml defines them.
   */
  async load(): Promise<string[]> {
    const shadowed: string[] = [];
    for (const record of await this.store.listSources()) {
      const entry = entryOf(record);
      if (this.registry.get(entry.name)?.fromFile) shadowed.push(entry.name);
      else this.registry.set(entry);
    }
    return shadowed;
  }

  /**
   * Another node changed the stored sources: take them as stored. A row this version cannot read is
   * reported and left as it was in memory; a source no longer stored goes (with its counts).
   */
  async reload(): Promise<StoredRowError[]> {
    const unreadable: StoredRowError[] = [];
    const stored = new Set<string>();
    for (const record of await this.store.listSources()) {
      stored.add(record.name);
      let entry: SourceEntry;
      try {
        entry = entryOf(record);
      } catch (error) {
        if (!(error instanceof StoredRowError)) throw error;
        unreadable.push(error);
        continue;
      }
      const known = this.registry.get(entry.name);
      if (known?.fromFile) continue;
      if (known && known.tenant === entry.tenant && JSON.stringify(known.config) === JSON.stringify(entry.config)) continue;
      this.registry.set(entry);
    }
    for (const entry of this.registry.list()) if (!entry.fromFile && !stored.has(entry.name)) this.registry.delete(entry.name);
    return unreadable;
  }

  /**
   * Store a source and answer with it at /in/{name} from now on. Rejects with an error whose code is
   * SOURCE_NAME_TAKEN when another tenant's source has the name (in storage: another node's).
   */
  async save(name: string, tenant: string, config: SourceEntry['config'], now: number): Promise<SourceEntry> {
    await this.store.upsertSource({ name, tenant, config, createdAt: now });
    const entry: SourceEntry = { name, tenant, config, fromFile: false };
    this.registry.set(entry);
    return entry;
  }

  /** Delete a stored source: /in/{name} answers 404 from now on. False when none was stored. */
  async remove(name: string): Promise<boolean> {
    const deleted = await this.store.deleteSource(name);
    if (!this.registry.get(name)?.fromFile) this.registry.delete(name);
    return deleted;
  }
}

/** A stored source as the registry holds it; a StoredRowError names a row this version cannot read. */
function entryOf(record: SourceRecord): SourceEntry {
  const what = `stored source "${record.name}"`;
  readStoredRow(nameSchema, record.name, what);
  const tenant = readStoredRow(nameSchema, record.tenant, what);
  return { name: record.name, tenant, config: readStoredRow(sourceConfigSchema, record.config, what), fromFile: false };
}
