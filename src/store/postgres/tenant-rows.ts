import { toTemplate, type TemplateRow } from '../rows.js';
import type { TemplateRecord } from '../types.js';
import type { Queryable } from './sql/queryable.js';

/** The tables of definitions named per tenant, each with the columns of TemplateRecord. */
export type TenantTable = 'templates' | 'workflows';

/**
 * Definitions named within their tenant (templates, workflows): one row per (tenant, name) holding
 * a config as JSON. The same three statements for each table; the table is one of a fixed few names.
 */
export class PostgresTenantRows {
  constructor(
    private readonly db: Queryable,
    private readonly table: TenantTable,
  ) {}

  /** Store a row, or replace its config (its createdAt stays). */
  async upsert(row: TemplateRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO ${this.table} (tenant, name, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
      values: [row.tenant, row.name, JSON.stringify(row.config), row.createdAt, row.updatedAt],
    });
  }

  /** Ordered by tenant and name in byte order, as SQLite orders them. */
  async list(): Promise<TemplateRecord[]> {
    const text = `SELECT tenant, name, config, created_at, updated_at FROM ${this.table} ORDER BY tenant COLLATE "C", name COLLATE "C"`;
    return (await this.db.query<TemplateRow>({ text })).rows.map(toTemplate);
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    return ((await this.db.query({ text: `DELETE FROM ${this.table} WHERE tenant = $1 AND name = $2`, values: [tenant, name] })).rowCount ?? 0) > 0;
  }
}
