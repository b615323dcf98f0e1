import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

type Counted = Record<'all' | 'get' | 'iterate', (...args: unknown[]) => unknown>;
const METHODS = ['all', 'get', 'iterate'] as const;

/**
 * Rows SQLite hands the store while `work` runs, over every prepared statement of the store and any
 * it prepares meanwhile: the work a call does on the store thread. The store's statements filter in
 * SQL only through an index, so rows handed over bound the rows visited.
 */
export async function rowsRead(target: SqliteStore, work: () => Promise<unknown>): Promise<number> {
  let rows = 0;
  const counted: Counted[] = [];
  const count = (statement: Counted): Counted => {
    const { all, get, iterate } = statement;
    statement.all = (...args) => {
      const found = all.apply(statement, args) as unknown[];
      rows += found.length;
      return found;
    };
    statement.get = (...args) => {
      const found = get.apply(statement, args);
      if (found !== undefined) rows += 1;
      return found;
    };
    statement.iterate = function* (...args) {
      for (const found of iterate.apply(statement, args) as Iterable<unknown>) {
        rows += 1;
        yield found;
      }
    };
    counted.push(statement);
    return statement;
  };
  for (const statement of Object.values((target as unknown as { sql: Record<string, Counted> }).sql)) count(statement);
  const db = target.db as unknown as { prepare?: (source: string) => Counted };
  const prepare = db.prepare!;
  db.prepare = (source) => count(prepare.call(db, source));
  try {
    await work();
    await new Promise((resolve) => setImmediate(resolve)); // the read-ahead a lease schedules
  } finally {
    delete db.prepare;
    for (const statement of counted) for (const method of METHODS) delete (statement as Partial<Counted>)[method];
  }
  return rows;
}
