import type { ListMessagesFilter, MessagePage, MessageState } from '../../types.js';
import { MESSAGE_COLUMNS, parseId, toStoredMessage, type MessageRow } from '../rows.js';
import type { Queryable } from './queryable.js';

/** Most rows that do not match a page may pass over before it ends early, with a cursor (as on SQLite). */
const MAX_SKIPPED = 1_000;
/** Most bytes of messages one page holds (a page of 1,000 webhooks of 1 MiB would be 1 GB), as on SQLite. */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Above this many queues holding the state asked for, a listing sweeps the primary key instead of merging them. */
const MAX_MERGED_QUEUES = 64;
/** Above every id: where a listing without a cursor starts. */
const ABOVE_EVERY_ID = '9223372036854775807';

/** States with a partial (queue, seq) index (migrations.ts): a listing of one of them reads those. */
const INDEXED = new Set<MessageState>(['ready', 'scheduled', 'inflight', 'dead']);

/**
 * Where a page looks, newest first, at most $2 rows below the cursor $1: the state's (queue, seq)
 * index of each queue in $8 (a backward index scan per queue, merged), or the primary key from the
 * cursor down. Only narrow columns: the rows shown are read whole afterwards. The state is written
 * out so that its partial index applies.
 */
const throughIndex = (state: MessageState) => `
  SELECT l.* FROM unnest($8::text[]) AS q(queue),
  LATERAL (SELECT id, seq, queue, tenant, state, stored_bytes FROM messages
           WHERE queue = q.queue AND state = '${state}' AND seq < $1 ORDER BY seq DESC LIMIT $2) AS l
  ORDER BY l.seq DESC LIMIT $2`;
const DOWN_THE_KEY = `SELECT id, seq, queue, tenant, state, stored_bytes FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2`;

/**
 * One page: of the rows looked at, those that match the filter ($3 tenant, $4 queue, $5 state), at
 * most $6, and of those only while the bytes before them stay under $7. Always one row more than
 * the messages, or exactly one row with null message columns, that carries how many rows were looked
 * at, the lowest seq among them, and how many matched: from these the caller knows where the next
 * page starts.
 */
const page = (looked: string) => `
WITH looked AS (${looked}),
shown AS (
  SELECT id, seq, sum(stored_bytes) OVER (ORDER BY seq DESC) - stored_bytes AS bytes_before FROM looked
  WHERE ($3::text IS NULL OR tenant = $3) AND ($4::text IS NULL OR queue = $4) AND ($5::text IS NULL OR state = $5)
  ORDER BY seq DESC LIMIT $6
)
SELECT seen.looked, seen.lowest, seen.matched, ${MESSAGE_COLUMNS}, p.headers, p.body
FROM (SELECT (SELECT count(*)::int FROM looked) AS looked, (SELECT min(seq) FROM looked) AS lowest,
             (SELECT count(*)::int FROM shown) AS matched) AS seen
LEFT JOIN (shown s JOIN messages m ON m.id = s.id JOIN payloads p ON p.id = coalesce(m.payload_id, s.id)) ON s.bytes_before < $7
ORDER BY m.seq DESC`;

/**
 * The queues whose (queue, seq) index of `state` a merged listing reads, by skip-scan over that
 * index (one probe per queue): for a tenant, those it owns or nobody owns. At most $2 of them.
 */
const queuesHolding = (state: MessageState) => `
WITH RECURSIVE queues AS (
  (SELECT queue FROM messages WHERE state = '${state}' ORDER BY queue LIMIT 1)
  UNION ALL
  SELECT next.queue FROM queues,
  LATERAL (SELECT queue FROM messages WHERE state = '${state}' AND queue > queues.queue ORDER BY queue LIMIT 1) AS next
)
SELECT queue FROM queues
WHERE $1::text IS NULL OR NOT EXISTS (SELECT 1 FROM queue_owners o WHERE o.queue = queues.queue AND o.tenant <> $1)
LIMIT $2`;

type PageRow = Omit<MessageRow, 'id'> & { id: number | null; looked: number; lowest: number | null; matched: number };

/**
 * Messages newest first, one page whose work is bounded whatever the table holds: it looks at no more
 * than limit + 1 + MAX_SKIPPED rows, each through an index, and reads whole only the rows it shows.
 * A filter on a state that has a (queue, seq) index reads that index, for the queue named or merged
 * across the queues holding the state; anything else (leased, finished states, no state, or too many
 * queues) sweeps down the primary key. A page that looked at all it may and did not fill ends early,
 * with a cursor below everything it looked at.
 */
export async function listMessages(db: Queryable, filter: ListMessagesFilter): Promise<MessagePage> {
  const before = filter.before === undefined ? ABOVE_EVERY_ID : (parseId(filter.before) ?? '0');
  const queues = await indexedQueues(db, filter);
  const scan = filter.limit + 1 + MAX_SKIPPED;
  const values: unknown[] = [before, scan, filter.tenant ?? null, filter.queue ?? null, filter.state ?? null, filter.limit + 1, MAX_PAGE_BYTES];
  const text = queues === undefined ? page(DOWN_THE_KEY) : page(throughIndex(filter.state!));
  const rows = (await db.query<PageRow>({ text, values: queues === undefined ? values : [...values, queues] })).rows;
  const seen = rows[0]!;
  const shown = rows.filter((row): row is PageRow & MessageRow => row.id !== null);
  const messages = shown.slice(0, filter.limit).map(toStoredMessage);
  // One more matched than is shown (past the limit or the bytes): the next page starts after the last shown.
  if (seen.matched > messages.length) return { messages, nextCursor: messages.at(-1)!.id };
  if (seen.looked === scan) return { messages, nextCursor: String(seen.lowest) };
  return { messages };
}

/** The queues whose index a page reads, or undefined for a sweep down the primary key. */
async function indexedQueues(db: Queryable, filter: ListMessagesFilter): Promise<string[] | undefined> {
  if (filter.state === undefined || !INDEXED.has(filter.state)) return undefined;
  if (filter.queue !== undefined) return [filter.queue];
  const text = queuesHolding(filter.state);
  const rows = (await db.query<{ queue: string }>({ text, values: [filter.tenant ?? null, MAX_MERGED_QUEUES + 1] })).rows;
  return rows.length > MAX_MERGED_QUEUES ? undefined : rows.map((row) => row.queue);
}
