import { MESSAGE_COLUMNS, type MessageRow } from '../rows.js';
import type { Queryable } from './queryable.js';

/**
 * Lease up to n ready messages of a pull queue, oldest first, in one statement.
 *
 * The inner SELECT reads the first n entries of `messages_ready_queue (queue, seq) WHERE state =
 * 'ready'`: its ORDER BY is the index order (seq, not id: migrations.ts says why), so a backlog of
 * any size is never sorted (the plan is a LIMIT over an index scan). `FOR UPDATE SKIP LOCKED` lets
 * two nodes lease from the same queue at once without waiting for each other or taking the same row:
 * each passes over rows the other has locked. The lease is the row itself (state, token, deadline), so it survives the node that took it;
 * `wake` returns it to ready once the deadline passes. The payload is joined in the same statement.
 * RETURNING has no order, hence the outer ORDER BY (over at most n rows).
 */
export const LEASE_STATEMENT = `
WITH leased AS (
  UPDATE messages m
  SET state = 'leased', lease_token = $3, lease_until = $4, attempts = m.attempts + 1, updated_at = $5
  WHERE m.id IN (SELECT id FROM messages WHERE queue = $1 AND state = 'ready' ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING ${MESSAGE_COLUMNS}
)
SELECT m.*, p.headers, p.body FROM leased m JOIN payloads p ON p.id = coalesce(m.payload_id, m.id) ORDER BY m.id`;

export async function leaseBatch(db: Queryable, queue: string, max: number, token: string, until: number, now: number): Promise<MessageRow[]> {
  const result = await db.query<MessageRow>({ name: 'sluice_lease_batch', text: LEASE_STATEMENT, values: [queue, max, token, until, now] });
  return result.rows;
}
