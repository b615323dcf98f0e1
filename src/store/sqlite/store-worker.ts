import { parentPort, workerData } from 'node:worker_threads';
import type { Durability } from './database.js';
import { SqliteStore } from './sqlite-store.js';
import { packBodies, reviveBodies, serializeError, type StoreRequest, type StoreResponse } from './thread-protocol.js';

/**
 * The store thread (see store-thread.ts): one SqliteStore, fed requests in the order the event loop
 * made them. Each request's database work runs to completion before the next starts, as it would
 * on the event loop; only the wait for fsync overlaps with later requests.
 */
const port = parentPort!;
const { path, durability } = workerData as { path: string; durability: Durability };

const post = (response: StoreResponse, transfer: ArrayBuffer[] = []) => port.postMessage(response, transfer);

let store: SqliteStore;
try {
  store = new SqliteStore(path, durability);
  port.on('message', (request: StoreRequest) => void answer(request));
} catch (error) {
  post({ id: 0, error: serializeError(error) });
}

async function answer({ id, method, args }: StoreRequest): Promise<void> {
  try {
    reviveBodies(args);
    const value: unknown = await (store[method] as (...params: unknown[]) => Promise<unknown>)(...args);
    const packed = packBodies([value]);
    post({ id, value: packed.values[0] }, packed.transfer);
  } catch (error) {
    post({ id, error: serializeError(error) });
  }
}
