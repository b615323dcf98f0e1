import pg from 'pg';
import { checkSchemaName } from './migrations.js';

/** How to reach PostgreSQL, and where in it the store lives. */
export interface PostgresOptions {
  /** postgres://user:password@host:port/database */
  connectionString: string;
  /** Schema holding every table of this store (created if missing). Tests use one each. Default 'sluice'. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Longest a statement may run before PostgreSQL cancels it, in ms. Default 30,000. */
  statementTimeoutMs?: number;
  /**
   * The node using the store: every push claim's token starts with it, so that the claims of a node
   * are known (released when it restarts, renewed while it lives). 12 characters [a-z0-9]; a random
   * one when absent.
   */
  nodeId?: string;
}

/** Node ids: fixed length, so a claim token's first NODE_ID_LENGTH characters name its node. */
export const NODE_ID_LENGTH = 12;
const NODE_ID = /^[a-z0-9]{12}$/;

export function checkNodeId(nodeId: string): string {
  if (!NODE_ID.test(nodeId)) throw new Error(`nodeId must be ${NODE_ID_LENGTH} characters [a-z0-9], got ${JSON.stringify(nodeId)}`);
  return nodeId;
}

const INT8 = 20;

/**
 * Parse bigint columns as numbers. Times are epoch milliseconds and ids come from a sequence: both
 * stay far below 2^53, and ids leave the store as decimal strings anyway.
 */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** How each connection is made: in `schema` (search_path set at connect), with a statement timeout. */
export function connectionConfig(options: PostgresOptions): pg.ClientConfig & { schema: string } {
  const schema = checkSchemaName(options.schema ?? 'sluice');
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
    throw new Error(`statementTimeoutMs must be an integer ≥ 0, got ${statementTimeoutMs}`);
  }
  return {
    schema,
    connectionString: options.connectionString,
    statement_timeout: statementTimeoutMs,
    // A database that does not answer (a network cut, not a refusal) fails a connect instead of hanging it.
    connectionTimeoutMillis: 10_000,
    options: `-c search_path=${schema}`,
    types,
  };
}

/** A pool of connections made as connectionConfig says. */
export function openPool(options: PostgresOptions): { pool: pg.Pool; schema: string } {
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new Error(`poolSize must be an integer ≥ 1, got ${poolSize}`);
  const { schema, ...config } = connectionConfig(options);
  const pool = new pg.Pool({ ...config, max: poolSize });
  // An idle connection that the server drops must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return { pool, schema };
}

/** The URL with its password hidden, for error messages and logs. */
export function redactUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable PostgreSQL URL)';
  }
}
