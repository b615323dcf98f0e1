/**
 * Helpers shared by the push scenarios: a Sluice configuration that may deliver to loopback,
 * enqueueing through the batch API while the queue is paused (so delivery starts all at once on
 * resume, not while the backlog is still being written), and waiting for a sink to see it all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSluice } from './sluice-process.js';

const API_BATCH = 10_000;

/** A push configuration: queue `outbound` starts paused; loopback targets allowed. */
export function pushConfig({ limits = {}, queue = {} } = {}) {
  return {
    network: { allowPrivate: true },
    limits,
    queues: { outbound: { mode: 'push', paused: true, ...queue } },
  };
}

/** Create messages (API shape) through POST /v1/messages/batch, 10,000 per call. */
export async function enqueue(sluice, messages) {
  for (let from = 0; from < messages.length; from += API_BATCH) {
    const body = await sluice.apiOk('POST', '/v1/messages/batch', { messages: messages.slice(from, from + API_BATCH) });
    if (body.messages.length !== Math.min(API_BATCH, messages.length - from)) throw new Error('batch answered a different count');
  }
}

export async function resume(sluice, queue = 'outbound') {
  await sluice.apiOk('POST', `/v1/queues/${queue}/resume`);
}

/** A padded JSON body of about `bytes` bytes carrying `fields`. */
export function paddedBody(fields, bytes) {
  const bare = JSON.stringify({ ...fields, pad: '' }).length;
  return { ...fields, pad: 'x'.repeat(Math.max(0, bytes - bare)) };
}

/**
 * Start a Sluice in a fresh temp dir, hand it to `work`, and always stop it and delete the dir.
 * `work(sluice)` returns the scenario's measurements.
 */
export async function withSluice(config, work, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  let sluice;
  try {
    sluice = await startSluice(dir, config, options);
    return await work(sluice, dir);
  } finally {
    await sluice?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Enqueue `messages` while paused, resume, and wait for the sink to count `expect` more requests.
 * @returns the sink's stats after the wait
 */
export async function deliverAll(sluice, sink, messages, { expect = messages.length, timeoutMs }) {
  await enqueue(sluice, messages);
  await sink.reset();
  await resume(sluice);
  await sink.waitForCount(expect, timeoutMs);
  return sink.stats();
}

/**
 * Warm a node up as a node that has run a while: `count` messages delivered unpaced to `sink` under
 * another of its names (`localhost`, whose limit the config must set), then the queue paused again.
 */
export async function warmUp(sluice, sink, count) {
  await enqueue(sluice, Array.from({ length: count }, (_, seq) => ({ url: sink.url('/hook', 'localhost'), body: paddedBody({ seq }, 256) })));
  await sink.reset();
  await resume(sluice);
  await sink.waitForCount(count, 120_000, 50);
  await sluice.apiOk('POST', '/v1/queues/outbound/pause');
}
