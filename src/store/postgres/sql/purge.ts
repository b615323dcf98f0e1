import type { Queryable } from './queryable.js';

/**
 * Retention: delete up to $2 finished messages (delivered, acked, cancelled) last changed before $1,
 * oldest first through the partial `messages_finished` index, with their payloads and attempts, and
 * every dedupe key expired by $3, in one statement. SKIP LOCKED: two nodes purging at once take
 * different rows. The count returned is that of deleted messages.
 */
const TEXT = `
WITH doomed AS (
  SELECT id FROM messages WHERE state IN ('delivered', 'acked', 'cancelled') AND updated_at < $1
  ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED
),
gone_payloads AS (DELETE FROM payloads WHERE id IN (SELECT id FROM doomed)),
gone_attempts AS (DELETE FROM attempts WHERE message_id IN (SELECT id FROM doomed)),
gone_keys AS (DELETE FROM dedupe WHERE expires_at <= $3)
DELETE FROM messages WHERE id IN (SELECT id FROM doomed)`;

export async function purge(db: Queryable, before: number, now: number, limit: number): Promise<number> {
  return (await db.query({ name: 'sluice_purge', text: TEXT, values: [before, limit, now] })).rowCount ?? 0;
}
