/**
 * Write stored messages straight into a stopped Sluice's SQLite file, in big transactions: far
 * faster than the API for the million-row backlogs the benchmarks need. Keeps `queue_counts` exact
 * (Sluice reads depth from it at start), and writes rows exactly as the store would.
 */
import Database from 'better-sqlite3';

const ROWS_PER_TX = 50_000;

/**
 * Insert `count` messages. `state`: 'acked' (finished backlog), 'ready' (pull or push work).
 * `make(i)` may give per-row { body, url, domain, deliverAt } overrides.
 * @returns {number} rows written
 */
export function prefillMessages(dbPath, { count, queue, state, tenant = 'default', bodyBytes = 1024, url = null, domain = '', make }) {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    `INSERT INTO messages (queue, tenant, state, method, path, query, url, domain,
                           received_at, deliver_at, updated_at, origin)
     VALUES (?, ?, ?, 'POST', '/', '', ?, ?, ?, ?, ?, 'bench')`,
  );
  const insertPayload = db.prepare(`INSERT INTO payloads (seq, headers, body) VALUES (?, '[["content-type","application/json"]]', ?)`);
  const bump = db.prepare(
    'INSERT INTO queue_counts (queue, state, n) VALUES (?, ?, ?) ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n',
  );
  const fixedBody = jsonBody(bodyBytes, 0);
  const now = Date.now();
  const writeChunk = db.transaction((from, to) => {
    for (let i = from; i < to; i += 1) {
      const row = make ? make(i) : {};
      const { lastInsertRowid } = insert.run(queue, tenant, state, row.url ?? url, row.domain ?? domain, now, row.deliverAt ?? now, now);
      insertPayload.run(lastInsertRowid, row.body ?? fixedBody);
    }
    bump.run(queue, state, to - from);
  });
  for (let from = 0; from < count; from += ROWS_PER_TX) writeChunk(from, Math.min(count, from + ROWS_PER_TX));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return count;
}

/** A JSON body of exactly `bytes` bytes: {"seq":n,"pad":"xxx…"}. */
export function jsonBody(bytes, seq) {
  const head = `{"seq":${seq},"pad":"`;
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail);
}

/** Run `PRAGMA integrity_check` on a database file; 'ok' when sound. */
export function integrityCheck(dbPath) {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
}
