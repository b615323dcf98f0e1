import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedConfig } from '../config/loader.js';
import { ConfigError } from '../config/loader.js';
import type { ClusterLink } from './cluster.js';
import { PostgresCluster } from './postgres/cluster.js';
import { checkNodeId } from './postgres/pool.js';
import { PostgresStore, randomNodeId } from './postgres/postgres-store.js';
import { DataDirLock } from './sqlite/data-dir-lock.js';
import { ThreadedStore } from './sqlite/store-thread.js';
import type { Store } from './store.js';

/** The storage a node runs on, chosen by its configuration; the only place that names a backend. */
export interface Backend {
  store: Store;
  /** Present when the store is shared by several nodes (PostgreSQL). */
  cluster?: ClusterLink;
  /** What to show where storage is named (logs): a path, or a URL with its password hidden. */
  describe: string;
  /** Leave the cluster, close the store, and let go of the data dir. */
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Where this node's API will listen, as the other nodes see it. */
  url: string;
  version: string;
  /** The store failed for good (the SQLite store thread died): the node must stop. */
  onFatal: (error: Error) => void;
  /** Something went wrong in the background that the node lives through (cluster connection …). */
  onProblem: (what: string, error: unknown) => void;
}

/**
 * Open the configured storage. Either way the data dir is locked for the life of the node first (one
 * process per data dir). SQLite: the embedded database in it. PostgreSQL: the shared database, and
 * this node joins its cluster under the node id kept in the data dir (so a node that restarts takes
 * its own claims back at once). Fails with a one-line error naming what could not be reached.
 */
export async function openBackend(loaded: LoadedConfig, options: BackendOptions): Promise<Backend> {
  const lock = DataDirLock.acquire(loaded.sqlitePath);
  try {
    const storage = loaded.config.storage;
    if (!storage.postgres) {
      const store = ThreadedStore.open(loaded.sqlitePath, storage.durability, options.onFatal);
      return { store, describe: loaded.sqlitePath, close: () => closing(store.close(), lock) };
    }
    if (!loaded.adminKey) {
      throw new ConfigError('SLUICE_ADMIN_KEY: on PostgreSQL every node needs the same admin key from SLUICE_ADMIN_KEY (none is generated)');
    }
    if (!loaded.vaultKeys) {
      throw new ConfigError('SLUICE_SECRET_KEY: on PostgreSQL every node needs the same vault key from SLUICE_SECRET_KEY (none is generated)');
    }
    const store = await PostgresStore.open({
      connectionString: storage.postgres,
      schema: storage.postgresSchema,
      poolSize: storage.postgresPoolSize,
      statementTimeoutMs: storage.postgresStatementTimeoutMs,
      nodeId: nodeIdOf(loaded.dataDir),
    });
    let cluster: PostgresCluster;
    try {
      cluster = await PostgresCluster.join(store, {
        url: options.url,
        version: options.version,
        perNodeLimits: loaded.config.limits.perNode,
        sharedLimits: loaded.config.limits.redis !== undefined,
        onProblem: options.onProblem,
      });
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
    const close = async () => {
      await cluster.leave();
      await closing(store.close(), lock);
    };
    return { store, cluster, describe: store.describe(), close };
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function closing(closed: Promise<void>, lock: DataDirLock): Promise<void> {
  try {
    await closed;
  } finally {
    lock.release();
  }
}

/** This node's id: kept in the data dir (mode 0600), made once. */
function nodeIdOf(dataDir: string): string {
  const path = join(dataDir, 'node-id');
  if (existsSync(path)) {
    const stored = readFileSync(path, 'utf8').trim();
    try {
      return checkNodeId(stored);
    } catch (error) {
      throw new ConfigError(`${path}: ${(error as Error).message}; delete the file to have a new id made`);
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const id = randomNodeId();
  writeFileSync(path, `${id}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return id;
}
