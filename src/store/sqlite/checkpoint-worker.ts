import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointPass } from './checkpointer.js';

/**
 * The checkpoint thread (see checkpointer.ts): its own connection to the database, copying the WAL
 * into the database file with PASSIVE checkpoints, which never wait for the writer, and reporting
 * each pass: every CHECKPOINT_EVERY_MS while the WAL grows fast, every CHECKPOINT_QUIET_MS while a
 * pass finds fewer than QUIET_FRAMES new frames.
 */
const { path, everyMs, quietMs, quietFrames } = workerData as { path: string; everyMs: number; quietMs: number; quietFrames: number };
const db = new Database(path);
db.pragma('synchronous = NORMAL'); // a checkpoint syncs the WAL before copying and the database after
db.pragma('wal_autocheckpoint = 0');

let lastLog = 0;

function pass(): void {
  let next = everyMs;
  try {
    const [done] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointPass[];
    if (done && done.log > 0) parentPort!.postMessage(done);
    // The WAL restarted (log went down) or grew by little: a quiet spell.
    const grown = done ? done.log - lastLog : 0;
    if (done && grown >= 0 && grown < quietFrames) next = quietMs;
    lastLog = done?.log ?? 0;
  } catch {
    // The writer is finishing a pass itself (SQLITE_BUSY): try again soon.
  }
  setTimeout(pass, next);
}

setTimeout(pass, everyMs);
