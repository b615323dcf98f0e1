import type { Queryable } from './queryable.js';

/**
 * Two CTEs that delete the payloads of the messages in CTE `gone` (columns id, payload_id), which the
 * same statement deletes: each one's own, and each shared one that no message outside `gone` still
 * names. Two statements, not one with OR: an OR of two IN lists is planned as a scan of payloads.
 */
export const deletePayloadsOf = (gone: string): string => `
gone_payloads AS (DELETE FROM payloads WHERE id IN (SELECT id FROM ${gone} WHERE payload_id IS NULL)),
gone_shared_payloads AS (
  DELETE FROM payloads WHERE id IN (
    SELECT g.payload_id FROM ${gone} g WHERE g.payload_id IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM messages o WHERE o.payload_id = g.payload_id AND o.id NOT IN (SELECT id FROM ${gone}))))`;

/**
 * Retention: delete up to $2 finished messages (delivered, acked, cancelled) last changed before $1,
 * oldest first through the partial `messages_finished` index, with their payloads and attempts, and
 * every dedupe key expired by $3, in one statement. SKIP LOCKED: two nodes purging at once take
 * different rows. The count returned is that of deleted messages.
 *
 * A payload shared by routed messages (payload_id) goes once no message outside this purge names it.
 * Two nodes purging the last two messages of one routed request at the same moment each still see
 * the other's, and leave the payload row behind: a few bytes kept, never a payload lost.
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
  return (await db.query({ name: 'sluice_purge', text: TEXT, values: [before, limit, now] })).rowCount ?? 0;
}
