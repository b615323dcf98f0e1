import type { QueueDeletion } from '../../types.js';
import { deletePayloadsOf } from './purge.js';
import type { Queryable } from './queryable.js';

/**
 * Pending messages of a queue, each state through its own partial index (leased ones through the
 * open-lease deadlines), so that the answer costs what is pending, not what retention keeps.
 */
const PENDING = `
SELECT (SELECT count(*) FROM messages WHERE queue = $1 AND state = 'ready')
     + (SELECT count(*) FROM messages WHERE queue = $1 AND state = 'scheduled')
     + (SELECT count(*) FROM messages WHERE queue = $1 AND state = 'inflight')
     + (SELECT count(*) FROM messages WHERE queue = $1 AND state = 'leased' AND lease_until IS NOT NULL) AS pending`;

/**
 * Every message of the queue in any state, with its payload and attempts, and the queue's definition
 * and ownership, in one statement. This scans `messages`: no index covers finished messages by queue,
 * and deleting a queue is a rare act of the operator, not worth an index entry on every append.
 * Counted from the rows deleted, as they were when deleted.
 */
const DELETE = `
WITH gone AS (DELETE FROM messages WHERE queue = $1 RETURNING id, state, payload_id),
${deletePayloadsOf('gone')},
gone_attempts AS (DELETE FROM attempts WHERE message_id IN (SELECT id FROM gone)),
gone_definition AS (DELETE FROM queues WHERE name = $1),
gone_owner AS (DELETE FROM queue_owners WHERE queue = $1)
SELECT count(*)::int AS messages, count(*) FILTER (WHERE state IN ('scheduled', 'ready', 'leased', 'inflight'))::int AS pending FROM gone`;

/**
 * Inside a transaction: delete a queue with all its messages, refused while some are pending unless
 * `force`. A message may become pending between the count and the delete (appended, or replayed from
 * dead, by another connection): the delete sees it as it deletes it, and is undone to a savepoint.
 */
export async function deleteQueueIn(tx: Queryable, name: string, force: boolean): Promise<QueueDeletion> {
  if (!force) {
    const pending = (await tx.query<{ pending: number }>({ text: PENDING, values: [name] })).rows[0]!.pending;
    if (pending > 0) return { deleted: false, pending, messages: 0 };
    await tx.query({ text: 'SAVEPOINT delete_queue' });
  }
  const gone = (await tx.query<{ messages: number; pending: number }>({ text: DELETE, values: [name] })).rows[0]!;
  if (!force && gone.pending > 0) {
    await tx.query({ text: 'ROLLBACK TO SAVEPOINT delete_queue' });
    return { deleted: false, pending: gone.pending, messages: 0 };
  }
  return { deleted: true, pending: gone.pending, messages: gone.messages };
}
