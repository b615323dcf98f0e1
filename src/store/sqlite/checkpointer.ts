import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { compiledScript } from './compiled-script.js';

/** How often the checkpoint thread copies the WAL into the database file while writes are heavy… */
export const CHECKPOINT_EVERY_MS = 200;
/**
 * …and while they are light: a pass that found fewer than QUIET_FRAMES new frames waits this long
 * for the next. Each pass that copies anything fsyncs the database file; at a few commits a second
 * (paced delivery, an idle node's bookkeeping) five passes a second cost more CPU than the writes.
 */
export const CHECKPOINT_QUIET_MS = 1_000;
export const QUIET_FRAMES = 64;
/** The writer finishes a pass (and so restarts the WAL) once the WAL holds this many frames (~4 MB)… */
const RESTART_AT_FRAMES = 1_000;
/** …if at most this many are left to copy; past HARD_LIMIT_FRAMES (~64 MB) it checkpoints whatever is left. */
const FINISH_AT_MOST_FRAMES = 500;
const HARD_LIMIT_FRAMES = 16_384;

/** What one `PRAGMA wal_checkpoint(PASSIVE)` reports. */
export interface CheckpointPass {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * Copies the WAL into the database file on a thread and connection of its own, so the writing
 * connection never stops for it.
 *
 * Why: a checkpoint fsyncs the database file, and on the writing connection it ran inside whichever
 * commit crossed the threshold. Measured on the store's thread with pull + ack on a 100,000-message
 * database: ack commits averaged 973 µs with checkpoints in them against 534 µs without, and one
 * commit in a hundred stopped the thread for 17 ms or more, the worst 290 ms.
 *
 * The catch is the WAL's restart: SQLite rewrites the WAL from its start only when a write begins
 * while every frame has been copied, which a checkpoint on another connection almost never leaves
 * behind (the writer has appended more meanwhile), so the WAL would grow without end. So after each
 * pass the writer is told how far it got, and once the WAL is large and little is left it copies the
 * rest itself: a small checkpoint (a few hundred frames, their pages already mostly synced), after
 * which its next write restarts the WAL.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private closed = false;

  constructor(
    path: string,
    private readonly writer: Database.Database,
  ) {
    writer.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(compiledScript('checkpoint-worker'), {
      workerData: { path, everyMs: CHECKPOINT_EVERY_MS, quietMs: CHECKPOINT_QUIET_MS, quietFrames: QUIET_FRAMES },
    });
    this.worker.on('message', (pass: CheckpointPass) => this.passed(pass));
    // Without the thread, the writer checkpoints as it did before: nothing is lost but the speed.
    this.worker.on('error', () => this.fallBack());
    this.worker.on('exit', () => this.fallBack());
    this.worker.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  private passed(pass: CheckpointPass): void {
    if (this.closed || !this.writer.open) return;
    const left = pass.log - pass.checkpointed;
    if ((pass.log >= RESTART_AT_FRAMES && left <= FINISH_AT_MOST_FRAMES) || pass.log >= HARD_LIMIT_FRAMES) {
      try {
        this.writer.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // The thread's next pass is running (SQLITE_BUSY): its report will bring us back.
      }
    }
  }

  private fallBack(): void {
    if (this.closed || !this.writer.open) return;
    this.closed = true;
    this.writer.pragma(`wal_autocheckpoint = ${RESTART_AT_FRAMES}`);
  }
}
