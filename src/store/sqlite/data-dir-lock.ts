import Database from 'better-sqlite3';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPrivately } from './database.js';

/** Another process holds the database: the start stops (the CLI exits 1 with this message). */
export class DataDirInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirInUseError';
  }
}

/**
 * One process per database. Two nodes on one SQLite file would lease the same messages (pull leases
 * and push claims live in memory). Node has no flock, so the lock is SQLite's own: a small file
 * next to the database, opened in exclusive locking mode with a write transaction that stays open
 * for the life of the node. The OS drops the lock when the process ends in any way, kill -9
 * included, so a crash never leaves a stale lock. The pid file, written once the lock is won, only
 * tells the loser whom it lost to.
 */
export class DataDirLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly pidPath: string,
  ) {}

  /** Take the lock of the database at `databasePath`, or throw DataDirInUseError. */
  static acquire(databasePath: string): DataDirLock {
    const lockPath = `${databasePath}.lock`;
    const pidPath = `${databasePath}.pid`;
    createPrivately(lockPath);
    const db = new Database(lockPath, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      throw new DataDirInUseError(`the data dir ${dirname(databasePath)} is in use by another Sluice (${holderOf(pidPath)}); stop it first`);
    }
    writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 });
    return new DataDirLock(db, pidPath);
  }

  /** Let go (on a clean stop; a process that dies lets go anyway). */
  release(): void {
    if (!this.db.open) return;
    rmSync(this.pidPath, { force: true });
    this.db.close();
  }
}

function holderOf(pidPath: string): string {
  try {
    const pid = readFileSync(pidPath, 'utf8').trim();
    if (/^\d+$/.test(pid)) return `pid ${pid}`;
  } catch {
    /* not written yet, or removed: say what we know */
  }
  return 'pid unknown';
}
