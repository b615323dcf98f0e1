import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice;
afterEach(async () => sluice?.stop());

/** A pull sent over its own socket, which the consumer closes `afterMs` later (or when `hangUp` resolves) without reading the answer. */
function abandonedPull(body: unknown, hangUp: number | Promise<unknown>): Promise<void> {
  const text = JSON.stringify(body);
  const request =
    `POST /v1/queues/default/pull HTTP/1.1\r\nhost: sluice\r\nauthorization: Bearer ${ADMIN_KEY}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(sluice.url).port), '127.0.0.1', () => {
      socket.write(request);
      const gone = typeof hangUp === 'number' ? new Promise((later) => setTimeout(later, hangUp)) : hangUp;
      void gone.then(() => socket.destroy());
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

/** Count the store's leaseBatch calls from now on. */
function countLeases(): { calls: number } {
  const counter = { calls: 0 };
  const leaseBatch = sluice.app.store.leaseBatch.bind(sluice.app.store);
  sluice.app.store.leaseBatch = (...args) => {
    counter.calls += 1;
    return leaseBatch(...args);
  };
  return counter;
}

const pull = (body: unknown) => sluice.api('POST', '/v1/queues/default/pull', body);
const ingest = (n: number, source = 'default') => fetch(`${sluice.url}/in/${source}`, { method: 'POST', body: `{"n":${n}}` });

describe('long-poll pulls whose consumer hangs up', () => {
  it('cost nothing once the socket closes: the waiter goes, no lease is tried for them, ingest is answered', async () => {
    sluice = await startSluice({
      queues: { default: { mode: 'pull' }, other: { mode: 'pull' } },
      sources: { default: { queue: 'default' }, other: { queue: 'other' } },
    });
    for (let i = 0; i < 50; i += 1) await ingest(i);
    expect((await pull({ max: 100, visibilityTimeoutMs: 600_000 })).body.messages).toHaveLength(50); // nothing ready now
    const leases = countLeases();

    const abandoned = Array.from({ length: 40 }, () => abandonedPull({ max: 1, waitMs: 20_000 }, 15));
    const answered = await Promise.all(Array.from({ length: 20 }, (_, i) => ingest(i, 'other')));
    await Promise.all(abandoned);
    expect(answered.every((response) => response.status === 202)).toBe(true);
    await eventually(() => sluice.app.waiters.count('default') === 0, 'the waiters of closed sockets to go');
    expect((await fetch(`${sluice.url}/readyz`)).status).toBe(200);

    // One lease attempt per pull, when it came in. Before, a pull woken by its hang-up leased once
    // more, for a consumer that was gone (and a message it leased waited out its visibility).
    expect(leases.calls).toBeLessThanOrEqual(40);
    await ingest(999);
    expect((await pull({ max: 100 })).body.messages.map((m: { attempt: number }) => m.attempt)).toEqual([1]);
  });

  it('gives back at once, uncounted, what was leased for a consumer that left before the answer', async () => {
    sluice = await startSluice({ queues: { default: { mode: 'pull', maxReceives: 1 } }, sources: { default: { queue: 'default' } } });
    const first = (await (await ingest(1)).json()) as { id: string };
    // The lease is answered only after the consumer has hung up: the race, made certain.
    let leased!: () => void;
    const hungUp = new Promise<void>((resolve) => (leased = resolve));
    const leaseBatch = sluice.app.store.leaseBatch.bind(sluice.app.store);
    let socketClosed!: Promise<void>;
    sluice.app.store.leaseBatch = async (...args) => {
      const messages = await leaseBatch(...args);
      leased();
      await socketClosed;
      await new Promise((resolve) => setTimeout(resolve, 20)); // the server sees the close
      return messages;
    };
    socketClosed = abandonedPull({ max: 1 }, hungUp);
    await socketClosed;
    sluice.app.store.leaseBatch = leaseBatch;

    const again = await eventually(async () => {
      const messages = (await pull({ max: 10 })).body.messages;
      return messages.length > 0 ? messages : undefined;
    }, 'the message to be ready again');
    // Received once, by this consumer: with maxReceives 1 a counted first lease would have made it dead.
    expect(again.map((m: { id: string; attempt: number }) => [m.id, m.attempt])).toEqual([[first.id, 1]]);
  });
});
