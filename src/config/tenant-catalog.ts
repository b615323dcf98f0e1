import type { z } from 'zod';
import { nameSchema } from './schema.js';
import { readStoredRow, StoredRowError } from './stored-row.js';

/** A definition named within its tenant (a template, a workflow): its config, its owner, and where it was defined. */
export interface TenantEntry<C> {
  tenant: string;
  name: string;
  config: C;
  /** Defined in sluice.yaml (tenant `default`); false: made through the API and kept in storage. */
  fromFile: boolean;
  createdAt: number;
  updatedAt: number;
}

/** A stored definition row, as the store reads and writes it. */
export interface TenantRow {
  tenant: string;
  name: string;
  config: unknown;
  createdAt: number;
  updatedAt: number;
}

/** How a catalog reaches its rows in the store. */
export interface TenantRows {
  upsert(row: TenantRow): Promise<void>;
  list(): Promise<TenantRow[]>;
  delete(tenant: string, name: string): Promise<boolean>;
}

/**
 * Definitions named per tenant, as a node uses them: those of sluice.yaml (owned by the tenant
 * `default`, never stored, changed only in the file) and those made through the API (kept in the
 * store, so they survive a restart and every node of a cluster shares them). A stored definition of
 * the default tenant with the name of a file one is left aside on this node, as sources are
 * (routing/source-catalog.ts). Templates and workflows are such catalogs.
 */
export class TenantCatalog<C> {
  private readonly entries = new Map<string, TenantEntry<C>>();

  /**
   * `kind` names rows in errors ("stored template "x" of tenant "y""). `storedInput` turns a stored
   * config (as parsed) back into the shape the schema reads, where parsing changed its shape.
   */
  constructor(
    private readonly kind: string,
    private readonly schema: z.ZodType<C>,
    private readonly rows: TenantRows,
    private readonly storedInput: (config: unknown) => unknown = (config) => config,
  ) {}

  /** sluice.yaml's definitions, at start. */
  setFileEntries(entries: Record<string, C>, now: number): void {
    for (const [name, config] of Object.entries(entries)) {
      this.entries.set(keyOf('default', name), { tenant: 'default', name, config, fromFile: true, createdAt: now, updatedAt: now });
    }
  }

  /**
   * At start: every stored definition, read back through the schema (a row this version cannot read
   * stops the start, naming it). Returns the names left aside because sluice.yaml defines them.
   */
  async load(): Promise<string[]> {
    const shadowed: string[] = [];
    for (const record of await this.rows.list()) {
      const entry = this.entryOf(record);
      if (this.entries.get(keyOf(entry.tenant, entry.name))?.fromFile) shadowed.push(entry.name);
      else this.entries.set(keyOf(entry.tenant, entry.name), entry);
    }
    return shadowed;
  }

  /** Another node changed the stored rows: take them as stored; a row this version cannot read is reported and left as it was. */
  async reload(): Promise<StoredRowError[]> {
    const unreadable: StoredRowError[] = [];
    const stored = new Set<string>();
    for (const record of await this.rows.list()) {
      const key = keyOf(record.tenant, record.name);
      stored.add(key);
      if (this.entries.get(key)?.fromFile) continue;
      try {
        this.entries.set(key, this.entryOf(record));
      } catch (error) {
        if (!(error instanceof StoredRowError)) throw error;
        unreadable.push(error);
      }
    }
    for (const [key, entry] of this.entries) if (!entry.fromFile && !stored.has(key)) this.entries.delete(key);
    return unreadable;
  }

  get(tenant: string, name: string): TenantEntry<C> | undefined {
    return this.entries.get(keyOf(tenant, name));
  }

  /** One tenant's definitions (every tenant's without one), by tenant and name. */
  list(tenant?: string): TenantEntry<C>[] {
    return [...this.entries.values()]
      .filter((entry) => tenant === undefined || entry.tenant === tenant)
      .sort((a, b) => compare(a.tenant, b.tenant) || compare(a.name, b.name));
  }

  /** Store a definition (made or replaced) and use it from now on. */
  async save(tenant: string, name: string, config: C, now: number): Promise<TenantEntry<C>> {
    const existing = this.get(tenant, name);
    const entry: TenantEntry<C> = { tenant, name, config, fromFile: false, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await this.rows.upsert({ tenant, name, config, createdAt: entry.createdAt, updatedAt: now });
    this.entries.set(keyOf(tenant, name), entry);
    return entry;
  }

  /** Delete a stored definition; false when none was stored. */
  async remove(tenant: string, name: string): Promise<boolean> {
    const deleted = await this.rows.delete(tenant, name);
    if (!this.entries.get(keyOf(tenant, name))?.fromFile) this.entries.delete(keyOf(tenant, name));
    return deleted;
  }

  /** A stored row as the catalog holds it; a StoredRowError names a row this version cannot read. */
  private entryOf(record: TenantRow): TenantEntry<C> {
    const what = `stored ${this.kind} "${record.name}" of tenant "${record.tenant}"`;
    const tenant = readStoredRow(nameSchema, record.tenant, what);
    const name = readStoredRow(nameSchema, record.name, what);
    return { tenant, name, config: readStoredRow(this.schema, this.storedInput(record.config), what) as C, fromFile: false, createdAt: record.createdAt, updatedAt: record.updatedAt };
  }
}

/** NUL cannot occur in a tenant or a name. */
function keyOf(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
