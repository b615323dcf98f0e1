import type Database from 'better-sqlite3';
import { toTemplate, type TemplateRow } from '../rows.js';
import type { TemplateRecord } from '../types.js';

/** The tables of definitions named per tenant, each with the columns of TemplateRecord. */
export type TenantTable = 'templates' | 'workflows';

/**
 * Definitions named within their tenant (templates, workflows): one row per (tenant, name) holding
 * a config as JSON. The same three statements for each table; the table is one of a fixed few names.
 */
export class SqliteTenantRows {
  private readonly sql;

  constructor(db: Database.Database, table: TenantTable) {
    this.sql = {
      upsert: db.prepare(
        `INSERT INTO ${table} (tenant, name, config, created_at, updated_at) VALUES (@tenant, @name, @config, @createdAt, @updatedAt)
         ON CONFLICT (tenant, name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
      ),
      list: db.prepare(`SELECT tenant, name, config, created_at, updated_at FROM ${table} ORDER BY tenant, name`),
      delete: db.prepare(`DELETE FROM ${table} WHERE tenant = ? AND name = ?`),
    };
  }

  /** Store a row, or replace its config (its createdAt stays). */
  upsert(row: TemplateRecord): void {
    this.sql.upsert.run({ ...row, config: JSON.stringify(row.config) });
  }

  list(): TemplateRecord[] {
    return (this.sql.list.all() as TemplateRow[]).map(toTemplate);
  }

  delete(tenant: string, name: string): boolean {
    return this.sql.delete.run(tenant, name).changes > 0;
  }
}
