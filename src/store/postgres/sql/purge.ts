import type { Queryable } from './queryable.js';

/**
 * CTEs that take the payloads of the messages in CTE `gone` (columns id, payload_id), which the same
 * statement deletes: each one's own is deleted; a shared one loses a reference per message gone, and
 * is deleted once none is left.
 */
export const deletePayloadsOf = (gone: string): string => `
gone_payloads AS (DELETE FROM payloads WHERE id IN (SELECT id FROM ${gone} WHERE payload_id IS NULL)),
released AS (SELECT payload_id AS id, count(*)::int AS n FROM ${gone} WHERE payload_id IS NOT NULL GROUP BY payload_id),
still_shared AS (UPDATE payloads p SET refs = p.refs - r.n FROM released r WHERE p.id = r.id AND p.refs > r.n),
gone_shared_payloads AS (DELETE FROM payloads p USING released r WHERE p.id = r.id AND p.refs <= r.n)`;

/**
 * Retention: delete up to $2 finished messages (delivered, acked, cancelled) last changed before $1,
 * oldest first through the partial `messages_finished` index, with their payloads and attempts, and
 * every dedupe key expired by $3, in one statement. SKIP LOCKED: two nodes purging at once take
 * different rows. The count returned is that of deleted messages.
 *
 * A payload shared by routed messages (payload_id) loses one reference per message purged and goes
 * with the last. Two nodes purging the last two messages of one routed request at the same moment
 * both read the count before the other's change, and the second then changes nothing: the payload
 * row stays behind. A few bytes kept, never a payload lost.
 */
const TEXT = `
WITH doomed AS (
  SELECT id, payload_id FROM messages WHERE state IN ('delivered', 'acked', 'cancelled') AND updated_at < $1
  ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED
),
${deletePayloadsOf('doomed')},
gone_attempts AS (DELETE FROM attempts WHERE message_id IN (SELECT id FROM doomed)),
gone_keys AS (DELETE FROM dedupe WHERE expires_at <= $3)
DELETE FROM messages WHERE id IN (SELECT id FROM doomed)`;

export async function purge(db: Queryable, before: number, now: number, limit: number): Promise<number> {
  const deleted = (await db.query({ name: 'sluice_purge', text: TEXT, values: [before, limit, now] })).rowCount ?? 0;
  await db.query({ name: 'sluice_purge_runs', text: RUNS_TEXT, values: [before, limit] });
  return deleted;
}

/**
 * Workflow runs that ended before `before` go with their steps, under the same retention as finished
 * messages (their step messages are purged by then too), at most `limit` a call.
 */
const RUNS_TEXT = `
WITH gone AS (
  DELETE FROM workflow_runs WHERE id IN (
    SELECT id FROM workflow_runs WHERE state <> 'running' AND updated_at < $1 ORDER BY updated_at LIMIT $2
  ) RETURNING id
)
DELETE FROM workflow_steps WHERE run_id IN (SELECT id FROM gone)`;
