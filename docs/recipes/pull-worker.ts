// A pull worker for Sluice: leases batches at its own pace, acks what it handled, hands back what
// failed, and stops cleanly on SIGTERM without losing or doubling a message. Run by
// test/docs/recipes.test.ts against a real node; see pull-worker.md.
import type { PulledMessage, SluiceClient } from 'sluice';

export interface WorkerOptions {
  queue: string;
  /** Handle one message; throw to have it offered again after `retryDelayMs`. */
  handle: (message: PulledMessage) => Promise<void>;
  /** Aborted: finish the batch in hand, then return. */
  signal: AbortSignal;
  batchSize?: number;
  retryDelayMs?: number;
}

export async function runWorker(client: SluiceClient, options: WorkerOptions): Promise<void> {
  const { queue, handle, signal, batchSize = 20, retryDelayMs = 5_000 } = options;
  while (!signal.aborted) {
    // A long poll: answers at once when messages are ready, else waits up to 20 s for one.
    const { messages } = await client.pull(queue, { max: batchSize, waitMs: signal.aborted ? 0 : 20_000 });
    const done: string[] = [];
    const failed: string[] = [];
    for (const message of messages) {
      try {
        await handle(message);
        done.push(message.receipt);
      } catch {
        failed.push(message.receipt);
      }
    }
    if (done.length > 0) await client.ack(queue, done);
    if (failed.length > 0) await client.nack(queue, failed, retryDelayMs);
  }
}

// As a program: SLUICE_URL=http://127.0.0.1:7070 SLUICE_KEY=… node pull-worker.js
//
//   const { SluiceClient } = await import('sluice');
//   const client = new SluiceClient({ url: process.env.SLUICE_URL!, key: process.env.SLUICE_KEY! });
//   const stop = new AbortController();
//   process.once('SIGTERM', () => stop.abort());
//   await runWorker(client, { queue: 'github-events', signal: stop.signal, handle: async (m) => console.log(m.id) });
