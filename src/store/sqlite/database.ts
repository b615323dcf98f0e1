import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type Durability = 'fsync' | 'os';

/**
 * Open (creating if needed) a Sluice SQLite database in WAL mode and bring its schema up to date.
 *
 * The connection always runs synchronous=NORMAL: commits never wait for the disk on the event
 * loop. With `durability: fsync` the store then makes acknowledged writes durable with an fsync of
 * the WAL on the thread pool (WalSync) — a power cut loses nothing acknowledged. With `os` it does
 * not: a crash of the process loses nothing, a crash of the machine may lose the last moments.
 */
export function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') createPrivately(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // A 32 MiB page cache holds the hot index tails. No mmap: mapped pages of a large database count
  // toward RSS (measured: +255 MiB with 1M stored messages), and appends gain nothing from it.
  db.pragma('cache_size = -32768');
  db.pragma('temp_store = MEMORY');
  // Checkpoint every ~4 MB of WAL on this connection, and never shrink the WAL below 64 MB: a small
  // WAL that is rewritten in place needs no new disk blocks, so commits do not queue behind the
  // file system's journal. A SqliteStore on disk turns this off and checkpoints on a thread of its
  // own instead (checkpointer.ts), finishing each pass here so the WAL still restarts in place;
  // this setting is what a connection without that thread (or whose thread died) does.
  db.pragma('wal_autocheckpoint = 1000');
  db.pragma('journal_size_limit = 67108864');
  migrate(db);
  if (path !== ':memory:') restrictSidecars(path);
  return db;
}

/**
 * Messages hold other people's webhooks: only the owner may read them. A directory Sluice creates is
 * 0700 (one that exists is left as its owner set it); the database file is created 0600 before
 * SQLite opens it, because SQLite gives its -wal and -shm files the database file's mode.
 */
export function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  else if (statSync(path).isFile()) chmodSync(path, 0o600);
}

/** A database made by an earlier version may have 0644 sidecars: tighten them too. */
function restrictSidecars(path: string): void {
  for (const sidecar of [`${path}-wal`, `${path}-shm`]) if (existsSync(sidecar)) chmodSync(sidecar, 0o600);
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
