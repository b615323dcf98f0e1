import { MESSAGE_STATES, type DomainBacklog, type MessageState, type QueueCounts } from '../../types.js';
import type { Queryable } from './queryable.js';

/**
 * Depth per queue and state, and each queue's stored bytes (the sum of its rows' stored_bytes), exact,
 * by GROUP BY. Interim: this reads every row of `messages`, finished ones included, so its cost grows
 * with what retention keeps. The shape to come (README.md in this folder) is a counts row per queue
 * refreshed by one node with an `asOf` time, because a counter updated by every commit would be one
 * hot row serialising all of them.
 * The oldest ready message per queue is the first entry of `messages_ready_queue` (a LATERAL probe).
 */
const COUNTS = `SELECT queue, state, count(*)::int AS n, sum(stored_bytes)::bigint AS bytes FROM messages GROUP BY queue, state`;
const OLDEST = `
SELECT q.queue, oldest.received_at FROM unnest($1::text[]) AS q(queue),
LATERAL (SELECT received_at FROM messages WHERE queue = q.queue AND state = 'ready' ORDER BY seq LIMIT 1) AS oldest`;

export async function queueCounts(db: Queryable): Promise<Map<string, QueueCounts>> {
  const result = new Map<string, QueueCounts>();
  const rows = (await db.query<{ queue: string; state: MessageState; n: number; bytes: number }>({ text: COUNTS })).rows;
  for (const row of rows) {
    let counts = result.get(row.queue);
    if (!counts) {
      counts = { states: Object.fromEntries(MESSAGE_STATES.map((s) => [s, 0])) as Record<MessageState, number>, storedBytes: 0 };
      result.set(row.queue, counts);
    }
    counts.states[row.state] = row.n;
    counts.storedBytes += row.bytes;
  }
  const withReady = [...result].filter(([, counts]) => counts.states.ready > 0).map(([queue]) => queue);
  if (withReady.length > 0) {
    const oldest = await db.query<{ queue: string; received_at: number }>({ name: 'sluice_oldest_ready', text: OLDEST, values: [withReady] });
    for (const row of oldest.rows) result.get(row.queue)!.oldestReadyAt = row.received_at;
  }
  return result;
}

/** Ready and scheduled push messages per domain: a GROUP BY over the partial ready/scheduled rows only. */
const BACKLOG = `
SELECT domain, count(*) FILTER (WHERE state = 'ready')::int AS ready, count(*) FILTER (WHERE state = 'scheduled')::int AS scheduled
FROM messages WHERE state IN ('ready', 'scheduled') AND domain <> '' GROUP BY domain`;

export async function domainBacklog(db: Queryable): Promise<Map<string, DomainBacklog>> {
  const rows = (await db.query<{ domain: string } & DomainBacklog>({ text: BACKLOG })).rows;
  return new Map(rows.map((row) => [row.domain, { ready: row.ready, scheduled: row.scheduled }]));
}
