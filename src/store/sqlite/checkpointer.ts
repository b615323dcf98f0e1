import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/** How often the background connection copies the WAL into the database. */
const CHECKPOINT_EVERY_MS = 5_000;

/**
 * Runs WAL checkpoints on a worker thread with its own connection, so the copy of WAL pages into the
 * database file — and the fsyncs that go with it — never stall the event loop. The main connection
 * has wal_autocheckpoint off. PASSIVE checkpoints never block the writer; when one has copied
 * everything, the writer starts the WAL over from the beginning, so the file stays small.
 */
export class BackgroundCheckpointer {
  private readonly worker: Worker;

  constructor(path: string) {
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const Database = require(workerData.driver);
      const db = new Database(workerData.path);
      db.pragma('busy_timeout = 50');
      const tick = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
      const timer = setInterval(tick, workerData.every);
      parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
    `;
    this.worker = new Worker(source, {
      eval: true,
      workerData: { path, every: CHECKPOINT_EVERY_MS, driver: require.resolve('better-sqlite3') },
    });
    this.worker.unref();
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref())]);
    await this.worker.terminate();
  }
}
