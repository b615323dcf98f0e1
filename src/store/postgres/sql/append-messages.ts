import { DEFAULT_PRIORITY, storedSize, type AppendResult, type NewMessage } from '../../types.js';
import type { Queryable } from './queryable.js';

/**
 * Group commit: a whole batch of messages in ONE statement, so a batch costs one round trip and one
 * parse-plan-execute however many messages it holds (PERF.md: PostgreSQL's CPU per statement
 * dominates; 100 rows per statement ran ~4 × the rows/s of one row per statement).
 *
 * - Ids: n values are drawn from the sequence and numbered in increasing order, then paired with the
 *   input rows by ordinality, so ids increase in the order of the batch without relying on the order
 *   in which INSERT evaluates nextval. A value drawn for a duplicate is simply skipped (gaps are fine;
 *   reuse never happens).
 * - Dedupe is `ON CONFLICT`, never check-then-insert: a concurrent inserter of the same key waits for
 *   the first one's commit and then sees its row. The conflict always updates the row (to itself when
 *   the key is still live), because only an updated row comes back in RETURNING: that gives every
 *   input its winning message id from the newest row version in the same statement. The key expired
 *   (expires_at <= now): it moves to the new message.
 * - Keys repeated inside one batch are resolved by the caller (ON CONFLICT cannot touch a row twice
 *   in one statement).
 * - messages and payloads are written by two data-modifying CTEs of the same statement.
 * - A duplicate answers with its first message's due time, read by a subquery that runs for
 *   duplicates alone. (A LEFT JOIN of the answers on `messages` did the same, but a plan made while
 *   the table was empty, kept by a pooled connection for its prepared statement, read the whole table
 *   for every batch: 5.3 billion rows over one 531,000-message benchmark.)
 * - Batches with a priority other than the default, and batches with routed requests, take other
 *   forms of the statement, so that ingest's usual batch carries neither (the column's default
 *   fills the priority). Routed requests (NewMessage.payload): each input names the ordinality of its lead (the lead its own), the lead's
 *   payload is stored once, counting the messages that name it (refs), every message of the request
 *   names it in payload_id, and a follower answers as its lead does when the lead is a duplicate.
 */
function appendStatement(routed: boolean, prioritized: boolean): string {
  // Optional inputs after $20, numbered in this order.
  const optional = [prioritized && 'priority', routed && 'lead_ord'].filter((name): name is string => Boolean(name));
  const param = (name: string) => `$${21 + optional.indexOf(name)}::${name === 'priority' ? 'smallint' : 'int'}[]`;
  const answers = routed
    ? `first_answers AS (
  SELECT input.*, COALESCE(c.message_id, input.id) AS own_answer
  FROM input LEFT JOIN claimed c ON c.scope = input.dedupe_scope AND c.key = input.dedupe_key
),
answers AS (
  SELECT a.*, l.id AS payload_id,
         CASE WHEN l.ord IS NULL OR l.ord = a.ord OR l.own_answer = l.id THEN a.own_answer ELSE l.own_answer END AS answer,
         CASE WHEN l.ord = a.ord THEN (SELECT count(*) FROM first_answers f WHERE f.lead_ord = a.ord)::int END AS refs
  FROM first_answers a LEFT JOIN first_answers l ON l.ord = a.lead_ord
)`
    : `answers AS (
  SELECT input.*, COALESCE(c.message_id, input.id) AS answer
  FROM input LEFT JOIN claimed c ON c.scope = input.dedupe_scope AND c.key = input.dedupe_key
)`;
  return `
WITH ids AS (
  SELECT id, row_number() OVER (ORDER BY id) AS ord
  FROM (SELECT nextval('message_ids') AS id FROM generate_series(1, $1::int)) AS drawn
),
input AS (
  SELECT ids.id, u.*
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
              $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::bytea[],
              $16::text[], $17::text[], $18::bigint[], $20::int[]${optional.map((name) => `, ${param(name)}`).join('')})
       WITH ORDINALITY AS u(queue, tenant, state, method, path, query, url, domain, received_at, deliver_at, origin,
                            retry, headers, body, dedupe_scope, dedupe_key, dedupe_expires, stored_bytes,${optional.map((name) => ` ${name},`).join('')} ord)
  JOIN ids USING (ord)
),
claimed AS (
  INSERT INTO dedupe AS d (scope, key, message_id, expires_at)
  SELECT dedupe_scope, dedupe_key, id, dedupe_expires FROM input WHERE dedupe_scope IS NOT NULL
  ON CONFLICT (scope, key) DO UPDATE
    SET message_id = CASE WHEN d.expires_at <= $19 THEN excluded.message_id ELSE d.message_id END,
        expires_at = CASE WHEN d.expires_at <= $19 THEN excluded.expires_at ELSE d.expires_at END
  RETURNING scope, key, message_id
),
${answers},
stored AS (
  INSERT INTO messages (id, queue, tenant, state, method, path, query, url, domain, received_at, deliver_at,
                        updated_at, origin, retry, stored_bytes${prioritized ? ', priority' : ''}${routed ? ', payload_id' : ''})
  SELECT id, queue, tenant, state, method, path, query, url, domain, received_at, deliver_at, $19, origin, retry, stored_bytes${prioritized ? ', priority' : ''}${routed ? ', payload_id' : ''}
  FROM answers WHERE answer = id
),
stored_payloads AS (
  INSERT INTO payloads (id, headers, body${routed ? ', refs' : ''}) SELECT id, headers, body${routed ? ', refs' : ''} FROM answers WHERE answer = id${routed ? ' AND (payload_id IS NULL OR payload_id = id)' : ''}
)
SELECT a.ord, a.answer AS id, a.answer <> a.id AS duplicate,
       CASE WHEN a.answer <> a.id THEN (SELECT m.deliver_at FROM messages m WHERE m.id = a.answer) ELSE a.deliver_at END AS deliver_at
FROM answers a
ORDER BY a.ord`;
}

/** The statement for a batch of messages all at the default priority, none routed: ingest's usual batch. */
export const APPEND_STATEMENT = appendStatement(false, false);
/** The four forms by [routed][prioritized], each a prepared statement of its own. */
const FORMS = [false, true].map((routed) =>
  [false, true].map((prioritized) => ({
    name: `sluice_append${routed ? '_routed' : ''}${prioritized ? '_prioritized' : ''}`,
    text: routed || prioritized ? appendStatement(routed, prioritized) : APPEND_STATEMENT,
  })),
);

/** Append `messages` (their dedupe keys unique within the batch) in one statement. */
export async function appendUnique(db: Queryable, messages: NewMessage[], now: number): Promise<AppendResult[]> {
  if (messages.length === 0) return [];
  const column = <T>(pick: (message: NewMessage) => T) => messages.map(pick);
  const routed = messages.some((message) => message.payload !== undefined);
  const prioritized = messages.some((message) => message.priority !== undefined && message.priority !== DEFAULT_PRIORITY);
  const result = await db.query<{ id: number; duplicate: boolean; deliver_at: number }>({
    ...FORMS[Number(routed)]![Number(prioritized)]!,
    values: [
      messages.length,
      column((m) => m.queue),
      column((m) => m.tenant),
      column((m) => (m.deliverAt > now ? 'scheduled' : 'ready')),
      column((m) => m.method),
      column((m) => m.path),
      column((m) => m.query),
      column((m) => m.url ?? null),
      column((m) => m.domain),
      column((m) => m.receivedAt),
      column((m) => m.deliverAt),
      column((m) => m.origin),
      column((m) => m.retry ?? null),
      column((m) => JSON.stringify(m.headers)),
      column((m) => m.body),
      column((m) => m.dedupe?.scope ?? null),
      column((m) => m.dedupe?.key ?? null),
      column((m) => m.dedupe?.expiresAt ?? null),
      now,
      column(storedSize),
      ...(prioritized ? [column((m) => m.priority ?? DEFAULT_PRIORITY)] : []),
      ...(routed ? [messages.map((message, index) => leadOrdinality(message, index))] : []),
    ],
  });
  return result.rows.map((row) => ({ id: String(row.id), duplicate: row.duplicate, deliverAt: row.deliver_at }));
}

/** The ordinality (1-based) of a routed message's lead in its batch: its own for a lead; null when not routed. */
function leadOrdinality(message: NewMessage, index: number): number | null {
  if (message.payload === undefined) return null;
  return index + 1 - (message.payload === 'lead' ? 0 : message.payload.follows);
}

/**
 * Append a batch in which a dedupe key may repeat: the first of each key is appended, each later one
 * answers as a duplicate of it (what the SQLite store does by appending one message at a time).
 */
export async function appendMessages(db: Queryable, messages: NewMessage[], now: number): Promise<AppendResult[]> {
  const firstOfKey = new Map<string, number>();
  const unique: NewMessage[] = [];
  const sameAs: number[] = []; // per message: its index in `unique`
  for (const [index, message] of messages.entries()) {
    if (typeof message.payload === 'object') {
      // A follower of a lead that repeats a key earlier in the batch answers as that lead does; any
      // other follower is renumbered to where its lead stands among the unique ones.
      const lead = index - message.payload.follows;
      const leadAt = sameAs[lead]!;
      if (unique[leadAt] !== messages[lead]) sameAs.push(leadAt);
      else {
        sameAs.push(unique.length);
        unique.push({ ...message, payload: { follows: unique.length - leadAt } });
      }
      continue;
    }
    const key = message.dedupe && `${message.dedupe.scope}\u0000${message.dedupe.key}`;
    const first = key === undefined ? undefined : firstOfKey.get(key);
    if (first !== undefined) {
      sameAs.push(first);
      continue;
    }
    if (key !== undefined) firstOfKey.set(key, unique.length);
    sameAs.push(unique.length);
    unique.push(message);
  }
  const appended = await appendUnique(db, unique, now);
  const told = new Set<number>();
  return sameAs.map((index) => {
    const result = appended[index]!;
    if (told.has(index)) return { ...result, duplicate: true };
    told.add(index);
    return result;
  });
}
