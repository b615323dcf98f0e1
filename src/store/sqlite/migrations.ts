/**
 * Forward-only, numbered schema migrations. A shipped migration is never edited; changes go in a new one.
 *
 * Why the indexes look the way they do: every index is maintained on every insert, and ingest is the
 * hottest path, so pending-state indexes are partial (they hold only the rows that can still move) and
 * the backlog of finished messages costs nothing but its rows.
 *
 * Why the payload lives in its own table: SQLite rewrites a whole row on UPDATE. With the 1 KiB body
 * in `messages`, every lease, ack, claim and outcome rewrote ~33 pages per batch of 100; with the
 * state row at ~100 bytes it rewrites ~3. The payload is written once and read when delivered.
 */
export const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE messages (
  seq          INTEGER PRIMARY KEY,      -- arrival order; the public id
  queue        TEXT    NOT NULL,
  tenant       TEXT    NOT NULL,
  state        TEXT    NOT NULL,
  method       TEXT    NOT NULL,
  path         TEXT    NOT NULL,
  query        TEXT    NOT NULL,
  url          TEXT,
  domain       TEXT    NOT NULL,         -- '' for pull queues
  received_at  INTEGER NOT NULL,
  deliver_at   INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  lease_token  TEXT,
  lease_until  INTEGER,
  updated_at   INTEGER NOT NULL,
  origin       TEXT    NOT NULL,
  retry        TEXT,
  last_error   TEXT
);
-- Pull: oldest ready first, per queue. Also the oldest-ready age in stats.
CREATE INDEX messages_ready_queue ON messages(queue, seq) WHERE state = 'ready';
-- Push: oldest ready first, per (queue, domain) lane; also walked by skip-scan to list lanes.
CREATE INDEX messages_ready_lane ON messages(queue, domain, seq) WHERE state = 'ready' AND domain <> '';
-- The one timer: next scheduled message, next lease to expire.
CREATE INDEX messages_scheduled ON messages(deliver_at) WHERE state = 'scheduled';
CREATE INDEX messages_leases ON messages(lease_until) WHERE state IN ('leased', 'inflight');
CREATE INDEX messages_dead ON messages(queue, seq) WHERE state = 'dead';
-- No index on finished messages: retention is a slow sweep by seq (see SqliteStore.purge), which
-- spares every ack and delivery one more b-tree update.

-- Written once at ingest, never updated: the request as it came.
CREATE TABLE payloads (
  seq     INTEGER PRIMARY KEY,             -- messages.seq
  headers TEXT    NOT NULL,                -- JSON array of [name, value]
  body    BLOB    NOT NULL
);

CREATE TABLE attempts (
  message_seq INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  status      INTEGER,
  latency_ms  INTEGER NOT NULL,
  error       TEXT,
  response    TEXT
);
CREATE INDEX attempts_message ON attempts(message_seq);

CREATE TABLE dedupe (
  scope       TEXT    NOT NULL,
  key         TEXT    NOT NULL,
  message_seq INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;

-- Depth by state, kept in the same transactions as the changes, so stats never scan messages.
CREATE TABLE queue_counts (
  queue TEXT    NOT NULL,
  state TEXT    NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, state)
) WITHOUT ROWID;

CREATE TABLE queues (
  name       TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  config     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE tenants (
  name        TEXT PRIMARY KEY,
  concurrency INTEGER,
  created_at  INTEGER NOT NULL
);
CREATE TABLE api_keys (
  hash       TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE domain_limits (
  key             TEXT PRIMARY KEY,
  concurrency     INTEGER,
  rate_per_second REAL,
  burst           INTEGER
);
CREATE TABLE schedules (
  name        TEXT PRIMARY KEY,
  tenant      TEXT NOT NULL,
  spec        TEXT NOT NULL,
  paused      INTEGER NOT NULL,
  next_run_at INTEGER,
  last_run_at INTEGER,
  created_at  INTEGER NOT NULL
);
`,
  },
  {
    // Push and pull scheduled messages in two indexes: push ones are promoted a little before they
    // are due (the dispatcher holds them until their time), pull ones only when due.
    version: 2,
    sql: `
DROP INDEX messages_scheduled;
CREATE INDEX messages_scheduled_push ON messages(deliver_at) WHERE state = 'scheduled' AND domain <> '';
CREATE INDEX messages_scheduled_pull ON messages(deliver_at) WHERE state = 'scheduled' AND domain = '';
`,
  },
  {
    // Pull leases are held in memory (pull-leases.ts); a leased message's row stays 'ready'. One row
    // per leased batch (and per extend) records its token, deadline and messages, so a restart
    // restores open leases instead of handing their messages out again at once.
    version: 3,
    sql: `
CREATE TABLE pull_leases (
  token TEXT    NOT NULL,
  queue TEXT    NOT NULL,
  until INTEGER NOT NULL,
  seqs  TEXT    NOT NULL                 -- JSON array of messages.seq
);
CREATE INDEX pull_leases_token ON pull_leases(token);
`,
  },
  {
    // Message ids never repeat for the life of a data dir. A rowid is max(seq)+1, so once retention
    // deleted the newest messages their ids came back, and receivers deduplicating on webhook-id
    // dropped the new message. The store now issues ids itself above a stored high-water mark, raised
    // once per commit that appends. (AUTOINCREMENT would do the same, but it reads and writes
    // sqlite_sequence on every insert — measured 12-17 % fewer inserts a second — and needs the
    // messages table rebuilt.) The mark starts above every id still named anywhere.
    //
    // file_settings: the value of each sluice.yaml setting as this node last applied it (see
    // config/file-settings.ts), so that a restart applies only what the file changed.
    version: 4,
    sql: `
CREATE TABLE message_ids (
  only INTEGER PRIMARY KEY CHECK (only = 1),
  high INTEGER NOT NULL                  -- the highest message id ever issued
);
INSERT INTO message_ids (only, high) SELECT 1, max(
  (SELECT coalesce(max(seq), 0) FROM messages),
  (SELECT coalesce(max(seq), 0) FROM payloads),
  (SELECT coalesce(max(message_seq), 0) FROM attempts),
  (SELECT coalesce(max(message_seq), 0) FROM dedupe));

CREATE TABLE file_settings (
  kind    TEXT NOT NULL,                 -- queue | schedule | domainLimit | tenantLimit
  name    TEXT NOT NULL,
  setting TEXT NOT NULL,                 -- a top-level field (or group of fields) of the entry
  value   TEXT NOT NULL,                 -- JSON of the file's value when it was last applied
  PRIMARY KEY (kind, name, setting)
) WITHOUT ROWID;
`,
  },
  {
    // Per-tenant quotas (limits.tenants.<t>.maxDepth and maxStoredBytes, PUT /v1/limits/tenants/{t}),
    // kept with the tenant so that an API change survives a restart.
    // queue_bytes: bytes of each queue's stored messages (body and headers as stored), kept in the
    // same transactions as appends and purges like queue_counts, so the bytes quota never scans;
    // seeded once here from what is stored.
    // Listing by queue newest first, for the two pending states that had no (queue, seq) index:
    // without them `GET /v1/messages?state=scheduled&queue=q&limit=1` visited every scheduled row.
    // Ready and dead have theirs since version 1; finished states have none on purpose (see
    // message-listing.ts: they are read by a bounded sweep).
    version: 5,
    sql: `
ALTER TABLE tenants ADD COLUMN max_depth INTEGER;
ALTER TABLE tenants ADD COLUMN max_stored_bytes INTEGER;
CREATE TABLE queue_bytes (
  queue TEXT    PRIMARY KEY,
  bytes INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO queue_bytes (queue, bytes)
  SELECT m.queue, SUM(length(p.body) + octet_length(p.headers)) FROM messages m JOIN payloads p ON p.seq = m.seq GROUP BY m.queue;
CREATE INDEX messages_scheduled_queue ON messages(queue, seq) WHERE state = 'scheduled';
CREATE INDEX messages_inflight_queue ON messages(queue, seq) WHERE state = 'inflight';
`,
  },
  {
    // API keys get a public id (to list and revoke them by), a short display prefix of the key, and
    // when they were last used (written lazily, about once a minute). Keys stored before this have no
    // prefix; their id is the start of their hash, which tells nothing about the key.
    // queue_owners: which tenant a queue name belongs to while any message of it is stored, so a
    // name cannot pass to another tenant even when its definition is gone. Seeded once from the
    // definitions and from the messages themselves (one scan, at this migration only).
    version: 6,
    sql: `
ALTER TABLE api_keys ADD COLUMN id TEXT;
ALTER TABLE api_keys ADD COLUMN prefix TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
UPDATE api_keys SET id = substr(hash, 1, 16) WHERE id IS NULL;
CREATE UNIQUE INDEX api_keys_id ON api_keys(tenant, id);
CREATE TABLE queue_owners (
  queue  TEXT PRIMARY KEY,
  tenant TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO queue_owners (queue, tenant) SELECT name, tenant FROM queues;
INSERT OR IGNORE INTO queue_owners (queue, tenant) SELECT queue, MIN(tenant) FROM messages GROUP BY queue;
`,
  },
  {
    // Routing: one ingested request may become several messages (one per matching route), and they
    // share the one payload row of the request instead of storing its bytes once each. payload_seq
    // is NULL for a message with a payload of its own (payloads.seq = seq, as before); the messages
    // of one routed request all carry the seq of the payload they share, the first of them included.
    // A shared payload counts the messages that name it (refs; NULL: one message owns it) and is
    // deleted with the last of them. A count, not an index on payload_seq: an index entry for every
    // routed message measured about a third of the store thread's extra cost of a fan-out.
    // sources: sources made through the API (PUT /v1/sources/{name}), owned by a tenant like queues.
    version: 7,
    sql: `
ALTER TABLE messages ADD COLUMN payload_seq INTEGER;
ALTER TABLE payloads ADD COLUMN refs INTEGER;
CREATE TABLE sources (
  name       TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  config     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    // Priorities (0 least urgent … 9 most, 5 by default): ready messages go out highest priority
    // first, FIFO within a priority. A lane is claimed in (priority DESC, seq) order, so its index
    // gains the priority. Pull queues keep their (queue, seq) index, which listings and the oldest
    // ready age read in arrival order; messages of any other priority than the default are also in
    // a small partial index by priority, from which leasing reads each priority in turn (see
    // SqliteStore.readUnleased). Ingest at the default priority maintains nothing more.
    version: 8,
    sql: `
ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
DROP INDEX messages_ready_lane;
CREATE INDEX messages_ready_lane ON messages(queue, domain, priority DESC, seq) WHERE state = 'ready' AND domain <> '';
CREATE INDEX messages_ready_priority ON messages(queue, priority, seq) WHERE state = 'ready' AND priority <> 5;
`,
  },
  {
    // Schedules count their runs (maxRuns, GET's runs): a tick adds its messages to the count in the
    // transaction that appends them and moves next_run_at, so the count survives a crash and a
    // restart, and a tick counted is a tick sent. Rows already stored start at 0.
    version: 9,
    sql: `
ALTER TABLE schedules ADD COLUMN runs INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    // The vault and templates (PUT /v1/secrets/{name}, PUT /v1/templates/{name}), both owned by a
    // tenant and named within it: two tenants may each have a secret `api_token`. A secret is kept
    // only sealed (AES-256-GCM, secrets/seal.ts) with the fingerprint of the key that sealed it, so a
    // rotation knows which rows it has yet to re-seal; its value is never in this file, nor in the WAL.
    version: 10,
    sql: `
CREATE TABLE secrets (
  tenant     TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  sealed     TEXT    NOT NULL,           -- base64 of nonce, ciphertext and tag; tenant and name are its associated data
  key_id     TEXT    NOT NULL,           -- fingerprint of the vault key that sealed it
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE TABLE templates (
  tenant     TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  config     TEXT    NOT NULL,           -- JSON of the template as PUT took it
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
`,
  },
  {
    // Workflows (PUT /v1/workflows/{name}) and their runs. A run keeps the definition it started
    // with, its variables and one row per step it took (a loop takes a step again under a new seq),
    // with the step's response (64 KiB). The message of a pending step names the run and step in its
    // origin, and the transaction that records its delivery also moves the run on.
    version: 11,
    sql: `
CREATE TABLE workflows (
  tenant     TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  config     TEXT    NOT NULL,           -- JSON of the workflow as PUT took it
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE TABLE workflow_runs (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- the run's id; never reused
  tenant          TEXT    NOT NULL,
  workflow        TEXT    NOT NULL,
  definition      TEXT    NOT NULL,      -- JSON of the workflow as the run started with it
  vars            TEXT    NOT NULL,
  state           TEXT    NOT NULL,
  error           TEXT,
  idempotency_key TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  version         INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX workflow_runs_idempotency ON workflow_runs(tenant, workflow, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflow_runs_by_workflow ON workflow_runs(tenant, workflow, seq);
CREATE INDEX workflow_runs_finished ON workflow_runs(updated_at) WHERE state <> 'running';  -- retention
CREATE TABLE workflow_steps (
  run_seq    INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  name       TEXT    NOT NULL,
  state      TEXT    NOT NULL,
  message_id TEXT,
  attempts   INTEGER NOT NULL,
  response   TEXT,                        -- JSON of { status, headers, body }
  error      TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (run_seq, seq)
) WITHOUT ROWID;
`,
  },
];
