import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointPass } from './checkpointer.js';

/**
 * The checkpoint thread (see checkpointer.ts): its own connection to the database, copying the WAL
 * into the database file every CHECKPOINT_EVERY_MS with PASSIVE checkpoints, which never wait for the
 * writer, and reporting each pass.
 */
const { path, everyMs } = workerData as { path: string; everyMs: number };
const db = new Database(path);
db.pragma('synchronous = NORMAL'); // a checkpoint syncs the WAL before copying and the database after
db.pragma('wal_autocheckpoint = 0');

setInterval(() => {
  try {
    const [pass] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointPass[];
    if (pass && pass.log > 0) parentPort!.postMessage(pass);
  } catch {
    // The writer is finishing a pass itself (SQLITE_BUSY): try again next time.
  }
}, everyMs);
