import { DEFAULT_PRIORITY } from '../../types.js';
import { MESSAGE_COLUMNS, type MessageRow } from '../rows.js';
import type { Queryable } from './queryable.js';

/**
 * Lease up to n ready messages of a pull queue, most urgent first and oldest first within a priority,
 * in one statement.
 *
 * Three branches each read the first n entries of an index in its order, so a backlog of any size is
 * never sorted (each plan is a LIMIT over an index scan): priorities above the default and below it
 * from the small partial `messages_ready_priority (queue, priority DESC, seq)`, the default from
 * `messages_ready_queue (queue, seq)` (seq, not id: migrations.ts says why). A queue whose messages
 * all have the default priority finds the partial index empty. `FOR UPDATE SKIP LOCKED` lets two
 * nodes lease from the same queue at once without waiting for each other or taking the same row:
 * each passes over rows the other has locked (rows a branch locked beyond the n taken are let go at
 * commit). The lease is the row itself (state, token, deadline), so it survives the node that took
 * it; `wake` returns it to ready once the deadline passes. The payload is joined in the same
 * statement. RETURNING has no order, hence the outer ORDER BY (over at most n rows).
 */
export const LEASE_STATEMENT = `
WITH candidates AS (
  SELECT * FROM (SELECT id, priority, seq FROM messages
                 WHERE queue = $1 AND state = 'ready' AND priority <> ${DEFAULT_PRIORITY} AND priority > ${DEFAULT_PRIORITY}
                 ORDER BY priority DESC, seq LIMIT $2 FOR UPDATE SKIP LOCKED) AS urgent
  UNION ALL
  SELECT * FROM (SELECT id, priority, seq FROM messages
                 WHERE queue = $1 AND state = 'ready' AND priority = ${DEFAULT_PRIORITY}
                 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) AS usual
  UNION ALL
  SELECT * FROM (SELECT id, priority, seq FROM messages
                 WHERE queue = $1 AND state = 'ready' AND priority <> ${DEFAULT_PRIORITY} AND priority < ${DEFAULT_PRIORITY}
                 ORDER BY priority DESC, seq LIMIT $2 FOR UPDATE SKIP LOCKED) AS later
),
leased AS (
  UPDATE messages m
  SET state = 'leased', lease_token = $3, lease_until = $4, attempts = m.attempts + 1, updated_at = $5
  WHERE m.id IN (SELECT id FROM candidates ORDER BY priority DESC, seq LIMIT $2)
  RETURNING ${MESSAGE_COLUMNS}
)
SELECT m.*, p.headers, p.body FROM leased m JOIN payloads p ON p.id = coalesce(m.payload_id, m.id) ORDER BY m.priority DESC, m.id`;

export async function leaseBatch(db: Queryable, queue: string, max: number, token: string, until: number, now: number): Promise<MessageRow[]> {
  const result = await db.query<MessageRow>({ name: 'sluice_lease_batch', text: LEASE_STATEMENT, values: [queue, max, token, until, now] });
  return result.rows;
}
