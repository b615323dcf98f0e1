import type { ClaimRequest } from '../../store.js';
import { laneKey, type LaneRef } from '../../types.js';
import { NODE_ID_LENGTH } from '../pool.js';
import { MESSAGE_COLUMNS, type MessageRow } from '../rows.js';
import type { Queryable } from './queryable.js';

/**
 * Claim the oldest ready messages of many (queue, domain) lanes in one statement: the lanes arrive
 * as three arrays, and for each a LATERAL subquery reads the first `max` entries of
 * `messages_ready_lane (queue, domain, priority DESC, seq) WHERE state = 'ready' AND domain <> ''`
 * (index order, no sort: the most urgent first, FIFO within a priority), `FOR UPDATE SKIP LOCKED`. A claim is the row: inflight with a deadline that any node's wake
 * reclaims once it passes, and a token (`lease_token`, one per call) that the outcome must show, so an
 * outcome of a claim that expired and was taken again changes nothing (complete-deliveries.ts).
 * Payloads are joined in the same statement.
 *
 * Strict (ordered) lanes have one node at a time: SKIP LOCKED passes over a head another node has
 * locked, so two nodes could otherwise send one lane's messages side by side. A strict lane is
 * claimed only while no other node's claim holds messages of it (`$7` is this node's id, the first
 * characters of its claim tokens). Two nodes checking at once is prevented by a per-lane advisory
 * lock taken first, in the same transaction but in a statement of its own (lockStrictLanes): the
 * claim's snapshot is then taken after the other node's claim committed, and sees it.
 */
const TEXT = `
WITH claimed AS (
  UPDATE messages m SET state = 'inflight', lease_token = $6, lease_until = $4, updated_at = $5
  WHERE m.id IN (
    SELECT head.id
    FROM unnest($1::text[], $2::text[], $3::int[], $8::bool[]) AS lane(queue, domain, max, strict),
    LATERAL (SELECT id FROM messages
             WHERE queue = lane.queue AND domain = lane.domain AND state = 'ready' AND domain <> ''
               AND (NOT lane.strict OR NOT EXISTS (
                 SELECT 1 FROM messages o
                 WHERE o.queue = lane.queue AND o.domain = lane.domain AND o.state = 'inflight'
                   AND left(o.lease_token, ${NODE_ID_LENGTH}) <> $7))
             ORDER BY priority DESC, seq LIMIT lane.max FOR UPDATE SKIP LOCKED) AS head
  )
  RETURNING ${MESSAGE_COLUMNS}
)
SELECT m.*, p.headers, p.body FROM claimed m JOIN payloads p ON p.id = coalesce(m.payload_id, m.id) ORDER BY m.priority DESC, m.id`;

/** Inside a transaction: the strict lanes whose lock this transaction got (the others are being claimed elsewhere). */
export async function lockStrictLanes(tx: Queryable, lanes: LaneRef[]): Promise<Set<string>> {
  const { rows } = await tx.query<LaneRef>({
    name: 'sluice_lock_strict_lanes',
    text: `SELECT queue, domain FROM unnest($1::text[], $2::text[]) AS lane(queue, domain)
           WHERE pg_try_advisory_xact_lock(hashtext('sluice.lane'), hashtext(queue || '/' || domain))`,
    values: [lanes.map((lane) => lane.queue), lanes.map((lane) => lane.domain)],
  });
  return new Set(rows.map((row) => laneKey(row.queue, row.domain)));
}

export async function claimLanes(
  db: Queryable,
  requests: ClaimRequest[],
  token: string,
  nodeId: string,
  leaseUntil: number,
  now: number,
): Promise<MessageRow[]> {
  const wanted = requests.filter(({ max }) => max > 0);
  if (wanted.length === 0) return [];
  const values = [
    wanted.map((r) => r.lane.queue),
    wanted.map((r) => r.lane.domain),
    wanted.map((r) => r.max),
    leaseUntil,
    now,
    token,
    nodeId,
    wanted.map((r) => r.strict === true),
  ];
  return (await db.query<MessageRow>({ name: 'sluice_claim_lanes', text: TEXT, values })).rows;
}

/**
 * Lanes with ready push messages, by skip-scan: a recursive CTE seeks the next (queue, domain) above
 * the last one in `messages_ready_lane`, one index probe per lane instead of one row visit per ready
 * message (what `SELECT DISTINCT` would do on a large backlog).
 */
const LANES = `
WITH RECURSIVE lanes AS (
  (SELECT queue, domain FROM messages WHERE state = 'ready' AND domain <> '' ORDER BY queue, domain LIMIT 1)
  UNION ALL
  SELECT next.queue, next.domain FROM lanes,
  LATERAL (SELECT queue, domain FROM messages
           WHERE state = 'ready' AND domain <> '' AND (queue, domain) > (lanes.queue, lanes.domain)
           ORDER BY queue, domain LIMIT 1) AS next
)
SELECT queue, domain FROM lanes WHERE queue = ANY($1::text[])`;

export async function readyLanes(db: Queryable, queues: string[]): Promise<LaneRef[]> {
  if (queues.length === 0) return [];
  return (await db.query<LaneRef>({ name: 'sluice_ready_lanes', text: LANES, values: [queues] })).rows;
}
