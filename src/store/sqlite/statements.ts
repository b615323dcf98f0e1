import type Database from 'better-sqlite3';
import { MESSAGE_COLUMNS } from './rows.js';
import { DEFAULT_PRIORITY } from '../types.js';

/**
 * Every hot query, prepared once. Each is shaped for one index (see migrations.ts):
 * - readyFrom / claimLane pick the oldest ready rows through the partial "ready" indexes; claimLane
 *   flips them in the same statement, so a batch costs one statement however large it is.
 * - promotePushDue / promotePullDue / expiredLeases walk the partial "scheduled" and "leases" indexes
 *   from the oldest.
 * - firstLane / nextLane are a skip-scan: one seek per distinct (queue, domain), instead of
 *   `SELECT DISTINCT`, which would visit every ready row.
 */
export function prepareStatements(db: Database.Database) {
  return named({
    insertMessage: db.prepare(
      `INSERT INTO messages (seq, queue, tenant, state, method, path, query, url, domain,
                             received_at, deliver_at, updated_at, origin, retry, payload_seq, priority)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    highestId: db.prepare('SELECT max(high, (SELECT coalesce(max(seq), 0) FROM messages)) AS high FROM message_ids'),
    raiseHighestId: db.prepare('UPDATE message_ids SET high = ? WHERE only = 1 AND high < ?'),
    insertPayload: db.prepare('INSERT INTO payloads (seq, headers, body) VALUES (?, ?, ?)'),
    payloadOf: db.prepare('SELECT headers, body FROM payloads WHERE seq = ?'),
    payloadRange: db.prepare('SELECT seq, headers, body FROM payloads WHERE seq BETWEEN ? AND ? ORDER BY seq').raw(true),
    // Returns the bytes the message took (storedSize: octet_length is the UTF-8 size of the JSON).
    deletePayload: db.prepare('DELETE FROM payloads WHERE seq = ? RETURNING length(body) + octet_length(headers) AS bytes').pluck(),
    // A payload shared by routed messages: its size (each of them counts it), and its deletion once
    // the last message naming it is gone.
    insertSharedPayload: db.prepare('INSERT INTO payloads (seq, headers, body, refs) VALUES (?, ?, ?, ?)'),
    releaseSharedPayload: db.prepare('UPDATE payloads SET refs = refs - 1 WHERE seq = ? RETURNING refs, length(body) + octet_length(headers) AS bytes'),
    findDedupe: db.prepare(
      `SELECT d.message_seq, m.deliver_at FROM dedupe d LEFT JOIN messages m ON m.seq = d.message_seq
       WHERE d.scope = ? AND d.key = ? AND d.expires_at > ?`,
    ),
    upsertDedupe: db.prepare(
      `INSERT INTO dedupe (scope, key, message_seq, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (scope, key) DO UPDATE SET message_seq = excluded.message_seq, expires_at = excluded.expires_at`,
    ),
    purgeDedupe: db.prepare('DELETE FROM dedupe WHERE expires_at <= ?'),

    // Pull leases live in memory (pull-leases.ts): leasing reads ready rows from the queue's scan
    // start (readyFrom) or rows noted as returned below it (readyRow), and the row is written once,
    // when its lease ends.
    // Raw mode (arrays, see messageRowFrom): these read a whole pull batch.
    // The default priority through the queue's (queue, seq) index (rows of other priorities are
    // passed over: they are few, and each read moves the scan start past them), any other priority
    // through the partial messages_ready_priority index (migration 8).
    readyFrom: db
      .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE queue = ? AND state = 'ready' AND priority = ${DEFAULT_PRIORITY} AND seq >= ? ORDER BY seq LIMIT ?`)
      .raw(true),
    readyFromPriority: db
      .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE queue = ? AND state = 'ready' AND priority <> ${DEFAULT_PRIORITY} AND priority = ? AND seq >= ? ORDER BY seq LIMIT ?`)
      .raw(true),
    // Priorities other than the default that have ready pull rows, at open.
    readyPriorities: db.prepare(`SELECT DISTINCT queue, priority FROM messages WHERE state = 'ready' AND priority <> ${DEFAULT_PRIORITY} AND domain = ''`),
    settleLease: db.prepare(
      `UPDATE messages SET state = ?, deliver_at = COALESCE(?, deliver_at), attempts = ?, last_error = COALESCE(?, last_error), updated_at = ?
       WHERE seq = ? AND state = 'ready'`,
    ),
    // Acks of a batch in one statement: [[seq, attempts], …] as JSON. Measured about twice as fast
    // as one settleLease per message (docs/PERFORMANCE.md).
    ackLeases: db.prepare(
      `UPDATE messages SET state = 'acked', attempts = acked.attempts, updated_at = ?
       FROM (SELECT value ->> 0 AS seq, value ->> 1 AS attempts FROM json_each(?)) AS acked
       WHERE messages.seq = acked.seq AND messages.state = 'ready'`,
    ),
    insertPullLease: db.prepare('INSERT INTO pull_leases (token, queue, until, seqs) VALUES (?, ?, ?, ?)'),
    deletePullLease: db.prepare('DELETE FROM pull_leases WHERE token = ?'),
    allPullLeases: db.prepare('SELECT token, queue, until, seqs FROM pull_leases'),
    readyState: db.prepare(`SELECT attempts, tenant, priority FROM messages WHERE seq = ? AND queue = ? AND state = 'ready'`),
    readyRow: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE seq = ? AND queue = ? AND state = 'ready'`).raw(true),
    readySeqsBelow: db.prepare(`SELECT seq, priority FROM messages WHERE queue = ? AND state = 'ready' AND seq < ? ORDER BY seq`),
    toDead: db.prepare(
      `UPDATE messages SET state = 'dead', last_error = ?, lease_token = NULL, lease_until = NULL, updated_at = ? WHERE seq = ?`,
    ),

    promotePushDue: db.prepare(
      `UPDATE messages SET state = 'ready', updated_at = ?
       WHERE seq IN (SELECT seq FROM messages WHERE state = 'scheduled' AND domain <> '' AND deliver_at <= ? ORDER BY deliver_at LIMIT ?)
       RETURNING seq, queue, domain, priority`,
    ),
    promotePullDue: db.prepare(
      `UPDATE messages SET state = 'ready', updated_at = ?
       WHERE seq IN (SELECT seq FROM messages WHERE state = 'scheduled' AND domain = '' AND deliver_at <= ? ORDER BY deliver_at LIMIT ?)
       RETURNING seq, queue, domain, priority`,
    ),
    expiredLeases: db.prepare(
      `SELECT seq, queue, domain, state, attempts, priority FROM messages
       WHERE state IN ('leased', 'inflight') AND lease_until <= ? ORDER BY lease_until LIMIT ?`,
    ),
    release: db.prepare(
      `UPDATE messages SET state = 'ready', lease_token = NULL, lease_until = NULL, updated_at = ? WHERE seq = ?`,
    ),
    nextScheduledPush: db.prepare(`SELECT MIN(deliver_at) AS at FROM messages WHERE state = 'scheduled' AND domain <> ''`),
    nextScheduledPull: db.prepare(`SELECT MIN(deliver_at) AS at FROM messages WHERE state = 'scheduled' AND domain = ''`),
    nextLeaseExpiry: db.prepare(`SELECT MIN(lease_until) AS at FROM messages WHERE state IN ('leased', 'inflight')`),

    firstLane: db.prepare(
      `SELECT queue, domain FROM messages WHERE state = 'ready' AND domain <> '' ORDER BY queue, domain LIMIT 1`,
    ),
    nextLane: db.prepare(
      `SELECT queue, domain FROM messages WHERE state = 'ready' AND domain <> '' AND (queue, domain) > (?, ?)
       ORDER BY queue, domain LIMIT 1`,
    ),
    claimLane: db.prepare(
      `UPDATE messages SET state = 'inflight', lease_until = ?, updated_at = ?
       WHERE seq IN (SELECT seq FROM messages WHERE queue = ? AND domain = ? AND state = 'ready' AND domain <> ''
                     ORDER BY priority DESC, seq LIMIT ?)
       RETURNING *`,
    ),
    // The head of each of many lanes in one statement: [[queue, domain], ...] as JSON. When many
    // lanes hold one message each (many domains), a statement per lane dominated claiming.
    claimHeads: db.prepare(
      `UPDATE messages SET state = 'inflight', lease_until = ?, updated_at = ?
       WHERE seq IN (SELECT (SELECT m.seq FROM messages m
                             WHERE m.queue = lane.value ->> 0 AND m.domain = lane.value ->> 1 AND m.state = 'ready' AND m.domain <> ''
                             ORDER BY m.priority DESC, m.seq LIMIT 1)
                     FROM json_each(?) AS lane)
       RETURNING *`,
    ),
    finishInflight: db.prepare(
      `UPDATE messages SET state = ?, attempts = COALESCE(?, attempts), last_error = ?, lease_until = NULL, updated_at = ?
       WHERE seq = ? AND state = 'inflight' RETURNING queue, domain`,
    ),
    retryInflight: db.prepare(
      `UPDATE messages SET state = ?, deliver_at = ?, attempts = COALESCE(?, attempts), last_error = ?, lease_until = NULL,
              updated_at = ?
       WHERE seq = ? AND state = 'inflight' RETURNING queue, domain`,
    ),
    holdInflight: db.prepare(
      `UPDATE messages SET attempts = ?, lease_until = ?, last_error = ?, updated_at = ?
       WHERE seq = ? AND state = 'inflight' RETURNING queue, domain`,
    ),
    releaseInflight: db.prepare(
      `UPDATE messages SET state = 'ready', lease_until = NULL, updated_at = ? WHERE seq = ? AND state = 'inflight' RETURNING queue, domain`,
    ),
    releaseClaims: db.prepare(
      `UPDATE messages SET state = 'ready', lease_until = NULL, updated_at = ? WHERE state = 'inflight' RETURNING queue, domain`,
    ),
    insertAttempt: db.prepare(
      `INSERT INTO attempts (message_seq, attempt, started_at, status, latency_ms, error, response) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),

    // Listings, newest first (message-listing.ts): one statement per state with a (queue, seq)
    // index, the state written out so that its partial index applies; and a sweep down the key.
    listReady: listInState(db, 'ready'),
    listScheduled: listInState(db, 'scheduled'),
    listInflight: listInState(db, 'inflight'),
    listDead: listInState(db, 'dead'),
    sweepDown: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?`).raw(true),
    queueOwners: db.prepare('SELECT name, tenant FROM queues').raw(true),

    getMessage: db.prepare('SELECT m.*, p.headers, p.body FROM messages m JOIN payloads p ON p.seq = coalesce(m.payload_seq, m.seq) WHERE m.seq = ?'),
    getState: db.prepare('SELECT queue, state, domain FROM messages WHERE seq = ?'),
    getAttempts: db.prepare(
      'SELECT attempt, started_at, status, latency_ms, error, response FROM attempts WHERE message_seq = ? ORDER BY rowid',
    ),
    cancel: db.prepare(`UPDATE messages SET state = 'cancelled', updated_at = ? WHERE seq = ?`),
    replayAllDead: db.prepare(
      `UPDATE messages SET state = 'ready', attempts = 0, deliver_at = ?, last_error = NULL, updated_at = ?
       WHERE seq IN (SELECT seq FROM messages WHERE queue = ? AND tenant = ? AND state = 'dead' ORDER BY seq LIMIT ?) RETURNING seq, domain, priority`,
    ),
    replayOneDead: db.prepare(
      `UPDATE messages SET state = 'ready', attempts = 0, deliver_at = ?, last_error = NULL, updated_at = ?
       WHERE queue = ? AND tenant = ? AND state = 'dead' AND seq = ? RETURNING seq, domain, priority`,
    ),
    // Deleting a queue scans the whole table: no index covers finished messages by queue (see
    // migration 1), and deleting a queue is a rare act of the operator, not worth an index on ingest.
    deleteQueueMessages: db.prepare('DELETE FROM messages WHERE queue = ? RETURNING seq, state, domain, payload_seq'),
    deleteQueuePullLeases: db.prepare('DELETE FROM pull_leases WHERE queue = ?'),
    sweepFrom: db.prepare('SELECT seq, queue, state, updated_at, payload_seq FROM messages WHERE seq > ? ORDER BY seq LIMIT ?'),
    deleteMessage: db.prepare('DELETE FROM messages WHERE seq = ?'),
    deleteAttempts: db.prepare('DELETE FROM attempts WHERE message_seq = ?'),
  });
}

/** One prepared statement, under a name of our own: declaration files cannot name better-sqlite3's own. */
export interface SqlStatement extends Database.Statement {}

function named<T extends Record<string, Database.Statement>>(statements: T): { [K in keyof T]: SqlStatement } {
  return statements;
}

function listInState(db: Database.Database, state: 'ready' | 'scheduled' | 'inflight' | 'dead'): Database.Statement {
  return db
    .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE queue = ? AND state = '${state}' AND seq < ? ORDER BY seq DESC LIMIT ?`)
    .raw(true);
}

export type Statements = ReturnType<typeof prepareStatements>;
