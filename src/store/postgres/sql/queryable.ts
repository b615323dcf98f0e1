import type { QueryResultRow } from 'pg';

/** A pool or a client inside a transaction: every hot query runs on either. */
export interface Queryable {
  query<R extends QueryResultRow>(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: R[]; rowCount: number | null }>;
}
