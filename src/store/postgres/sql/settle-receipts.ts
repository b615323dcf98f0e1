import type { Queryable } from './queryable.js';

/**
 * Ack, nack, extend and return unsent by receipt, each one statement for the whole batch: the
 * receipts arrive as two arrays (ids, tokens) joined with `unnest`, and a row changes only while it
 * is still leased under that token in that queue. A receipt of a lease that ended (acked, expired and
 * leased again by anyone, on any node) matches nothing and comes back as stale. RETURNING names the
 * receipts that matched (id and token: two receipts may name one message with different tokens).
 */
const RECEIPTS = `unnest($2::bigint[], $3::text[]) AS r(id, token)`;
const HELD = `m.id = r.id AND m.lease_token = r.token AND m.queue = $1 AND m.state = 'leased'`;

export const ACK_STATEMENT = `
UPDATE messages m SET state = 'acked', lease_token = NULL, lease_until = NULL, updated_at = $4
FROM ${RECEIPTS} WHERE ${HELD}
RETURNING m.id, r.token`;

/**
 * Nack: dead once received maxReceives times (attempts counts receives, including this one), else
 * scheduled after the delay, else ready at once in its old place (its id).
 */
const NACK = `
UPDATE messages m SET
  state = CASE WHEN m.attempts >= $5 THEN 'dead' WHEN $6::bigint > 0 THEN 'scheduled' ELSE 'ready' END,
  deliver_at = CASE WHEN m.attempts < $5 AND $6::bigint > 0 THEN $4 + $6::bigint ELSE m.deliver_at END,
  last_error = CASE WHEN m.attempts >= $5 THEN 'receives exhausted' ELSE m.last_error END,
  lease_token = NULL, lease_until = NULL, updated_at = $4
FROM ${RECEIPTS} WHERE ${HELD}
RETURNING m.id, r.token, m.state`;

const EXTEND = `
UPDATE messages m SET lease_until = $4
FROM ${RECEIPTS} WHERE ${HELD}
RETURNING m.id, r.token`;

/**
 * Unsent (the consumer hung up before the batch reached it): ready at once in its old place (its
 * seq), and the receive it never got is taken back off the count toward maxReceives.
 */
const RETURN_UNSENT = `
UPDATE messages m SET state = 'ready', attempts = m.attempts - 1, lease_token = NULL, lease_until = NULL, updated_at = $4
FROM ${RECEIPTS} WHERE ${HELD}
RETURNING m.id, r.token`;

export interface Settled {
  id: number;
  token: string;
  state?: string;
}

export async function ackReceipts(db: Queryable, queue: string, ids: string[], tokens: string[], now: number): Promise<Settled[]> {
  return (await db.query<Settled>({ name: 'sluice_ack', text: ACK_STATEMENT, values: [queue, ids, tokens, now] })).rows;
}

export async function nackReceipts(
  db: Queryable,
  queue: string,
  ids: string[],
  tokens: string[],
  now: number,
  maxReceives: number,
  delayMs: number,
): Promise<Settled[]> {
  return (await db.query<Settled>({ name: 'sluice_nack', text: NACK, values: [queue, ids, tokens, now, maxReceives, delayMs] })).rows;
}

export async function extendReceipts(db: Queryable, queue: string, ids: string[], tokens: string[], until: number): Promise<Settled[]> {
  return (await db.query<Settled>({ name: 'sluice_extend', text: EXTEND, values: [queue, ids, tokens, until] })).rows;
}

export async function returnUnsentReceipts(db: Queryable, queue: string, ids: string[], tokens: string[], now: number): Promise<Settled[]> {
  return (await db.query<Settled>({ name: 'sluice_return_unsent', text: RETURN_UNSENT, values: [queue, ids, tokens, now] })).rows;
}
