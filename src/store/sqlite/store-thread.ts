import { Worker } from 'node:worker_threads';
import type { Store } from '../store.js';
import { compiledScript } from './compiled-script.js';
import type { Durability } from './database.js';
import {
  deserializeError,
  packBodies,
  reviveBodies,
  STORE_METHODS,
  type StoreMethod,
  type StoreRequest,
  type StoreResponse,
} from './thread-protocol.js';

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * The embedded SQLite store, run on a thread of its own (store-worker.ts); this side forwards every
 * Store call to it and hands back its answer. Calls are carried out in the order they are made.
 *
 * Why a thread: better-sqlite3 is synchronous, so on the event loop every insert, commit and WAL
 * checkpoint stopped all HTTP work while it ran. Measured: a third of the event loop's time under
 * ingest load went to SQLite, and a checkpoint inside a commit held up timers for 8–15 ms about once
 * a second, which is what made scheduled deliveries late (docs/PERFORMANCE.md). On its own thread
 * the store works while the event loop parses the next requests and keeps its timers.
 */
export class ThreadedStore {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the thread has failed or exited: every later call fails with it. */
  private failure: Error | undefined;
  private closing = false;

  private constructor(
    path: string,
    durability: Durability,
    private readonly onFailure: (error: Error) => void,
  ) {
    this.worker = new Worker(compiledScript('store-worker'), { workerData: { path, durability } });
    this.worker.on('message', (response: StoreResponse) => this.answer(response));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`the store thread exited (code ${code})`)));
  }

  /**
   * A Store whose work runs on its own thread. If the database cannot be opened, or the thread dies,
   * every call from then on fails with that error, and `onFailure` hears of it once: a node whose
   * storage is gone should stop rather than answer 503 forever.
   */
  static open(path: string, durability: Durability, onFailure: (error: Error) => void = () => {}): Store {
    const thread = new ThreadedStore(path, durability, onFailure);
    const store = {} as Record<StoreMethod, (...args: unknown[]) => Promise<unknown>>;
    for (const method of STORE_METHODS) store[method] = (...args) => thread.call(method, args);
    store.close = () => thread.close();
    return store as unknown as Store;
  }

  private async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      if (!this.failure) await this.call('close', []);
    } finally {
      await this.worker.terminate();
    }
  }

  private call(method: StoreMethod, args: unknown[]): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const packed = packBodies(args);
    const request: StoreRequest = { id, method, args: packed.values };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(request, packed.transfer);
    });
  }

  private answer(response: StoreResponse): void {
    if ('error' in response && response.id === 0) {
      this.fail(deserializeError(response.error));
      return;
    }
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    if ('error' in response) pending.reject(deserializeError(response.error));
    else {
      reviveBodies([response.value]);
      pending.resolve(response.value);
    }
  }

  private fail(error: Error): void {
    const first = this.failure === undefined;
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(this.failure);
    this.pending.clear();
    if (first && !this.closing) this.onFailure(this.failure);
  }
}
