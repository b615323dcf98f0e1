import type { Queryable } from './queryable.js';

/**
 * One wake-up pass in one statement: three data-modifying CTEs over disjoint rows.
 * - due push messages (deliver_at within the lead) and due pull messages become ready, each read from
 *   its partial `scheduled` index in deliver_at order;
 * - pull leases and push claims whose deadline passed (partial `leases` index, lease_until order)
 *   become ready, or dead for a pull message received maxReceives times (per queue, passed as two
 *   arrays; $5 for a queue not named).
 * Each takes at most $6 rows, `FOR UPDATE SKIP LOCKED`, so two nodes waking at once split the work
 * instead of queueing behind each other's locks; the caller loops while a part came back full.
 */
const TEXT = `
WITH push_due AS (
  UPDATE messages SET state = 'ready', updated_at = $1
  WHERE id IN (SELECT id FROM messages WHERE state = 'scheduled' AND domain <> '' AND deliver_at <= $2
               ORDER BY deliver_at LIMIT $6 FOR UPDATE SKIP LOCKED)
  RETURNING id, queue, domain, state
),
pull_due AS (
  UPDATE messages SET state = 'ready', updated_at = $1
  WHERE id IN (SELECT id FROM messages WHERE state = 'scheduled' AND domain = '' AND deliver_at <= $1
               ORDER BY deliver_at LIMIT $6 FOR UPDATE SKIP LOCKED)
  RETURNING id, queue, domain, state
),
expired AS (
  UPDATE messages m SET
    state = CASE WHEN m.state = 'leased' AND m.attempts >= COALESCE(
                   (SELECT l.n FROM unnest($3::text[], $4::int[]) AS l(queue, n) WHERE l.queue = m.queue), $5)
                 THEN 'dead' ELSE 'ready' END,
    last_error = CASE WHEN m.state = 'leased' AND m.attempts >= COALESCE(
                   (SELECT l.n FROM unnest($3::text[], $4::int[]) AS l(queue, n) WHERE l.queue = m.queue), $5)
                 THEN 'receives exhausted' ELSE m.last_error END,
    lease_token = NULL, lease_until = NULL, updated_at = $1
  WHERE m.id IN (SELECT id FROM messages WHERE lease_until <= $1 AND state IN ('leased', 'inflight')
                 ORDER BY lease_until LIMIT $6 FOR UPDATE SKIP LOCKED)
  RETURNING m.id, m.queue, m.domain, m.state
)
SELECT 'push' AS part, * FROM push_due
UNION ALL SELECT 'pull', * FROM pull_due
UNION ALL SELECT 'expired', * FROM expired`;

export interface WokenRow {
  part: 'push' | 'pull' | 'expired';
  id: number;
  queue: string;
  domain: string;
  state: string;
}

export async function wakeOnce(
  db: Queryable,
  now: number,
  pushDueBy: number,
  maxReceives: ReadonlyMap<string, number>,
  defaultMaxReceives: number,
  chunk: number,
): Promise<WokenRow[]> {
  const values = [now, pushDueBy, [...maxReceives.keys()], [...maxReceives.values()], defaultMaxReceives, chunk];
  return (await db.query<WokenRow>({ name: 'sluice_wake', text: TEXT, values })).rows;
}

/**
 * The earliest moment wake would do something: three index-only MIN lookups over the same partial
 * indexes (a MIN over an index is its first entry).
 */
const NEXT = `
SELECT (SELECT min(deliver_at) FROM messages WHERE state = 'scheduled' AND domain <> '') - $1::bigint AS push,
       (SELECT min(deliver_at) FROM messages WHERE state = 'scheduled' AND domain = '') AS pull,
       (SELECT min(lease_until) FROM messages WHERE lease_until IS NOT NULL) AS lease`;

export async function nextWakeAt(db: Queryable, pushLeadMs: number): Promise<number | undefined> {
  const row = (await db.query<{ push: number | null; pull: number | null; lease: number | null }>({ name: 'sluice_next_wake', text: NEXT, values: [pushLeadMs] })).rows[0]!;
  const candidates = [row.push, row.pull, row.lease].filter((at): at is number => at !== null);
  return candidates.length > 0 ? Math.min(...candidates) : undefined;
}
