import type { PoolClient } from 'pg';

/**
 * Forward-only, numbered schema migrations of the PostgreSQL store. A shipped migration is never
 * edited; a change goes in a new one. They run at open, under an advisory lock (see migrate), in the
 * schema the store was given (every connection's search_path).
 *
 * Why the tables look the way they do:
 * - `messages` holds only the state of a message (~150 bytes a row); the request itself lives in
 *   `payloads`, written once. PostgreSQL writes a whole new row version on every UPDATE, and a 1 KiB
 *   body stays inline (it is below the 2 KiB TOAST threshold): with the body in `messages`, every
 *   lease, ack, claim and outcome would copy it.
 * - Every pending-state index is partial and ordered exactly like the query that claims from it
 *   (ORDER BY seq within a queue or lane, deliver_at, lease_until), so a claim reads the first rows of
 *   an index and never sorts a backlog (pg-boss's fetch sorts its whole backlog: its index does not
 *   match its ORDER BY; see PERF.md).
 * - Text that is ordered or compared for lanes uses COLLATE "C": byte order, as SQLite orders it,
 *   and cheaper comparisons than a locale's.
 * - No foreign keys: each would take a share lock per inserted row (pg-boss's `send` spends most of
 *   its time there). Rows of one message are removed together by purge.
 * - Ids come from a sequence and are never reused, even after a purge.
 */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'messages, payloads, attempts, dedupe and the catalog',
    sql: `
CREATE SEQUENCE message_ids;

CREATE TABLE messages (
  id           bigint  PRIMARY KEY DEFAULT nextval('message_ids'),
  seq          bigint  GENERATED ALWAYS AS (id) STORED,  -- place in line: the id again (see below)
  queue        text    COLLATE "C" NOT NULL,
  tenant       text    NOT NULL,
  state        text    NOT NULL,
  method       text    NOT NULL,
  path         text    NOT NULL,
  query        text    NOT NULL,
  url          text,
  domain       text    COLLATE "C" NOT NULL,   -- '' for pull queues
  received_at  bigint  NOT NULL,
  deliver_at   bigint  NOT NULL,
  attempts     integer NOT NULL DEFAULT 0,
  lease_token  text,                           -- token of the open pull lease (in its receipts) or push claim
  lease_until  bigint,                         -- pull lease or push claim deadline
  updated_at   bigint  NOT NULL,
  origin       text    NOT NULL,
  retry        text,
  last_error   text
);
ALTER SEQUENCE message_ids OWNED BY messages.id;

-- Why claims order by seq and not by id, though the two are equal: ordered by id, the planner may
-- read the primary key in id order and filter on queue and state, because its statistics (taken when
-- the queue was all ready, and never refreshed with autovacuum off) say nearly every row matches.
-- EXPLAIN ANALYZE at 50,000 ready behind 2,000 acked, ORDER BY id LIMIT 100: "Index Scan using
-- messages_pkey … Rows Removed by Filter: 2000" (2.5 ms), a cost that grows with every message ever
-- acked in front of the queue's head. No index but these partial ones gives seq order (the planner
-- does not know seq = id), so the plan is always a LIMIT over the partial index (same data: "Index
-- Scan using messages_ready_queue", nothing removed, 0.3 ms). Generated: no writer can get it wrong.
-- Pull: oldest ready first per queue (lease-batch.ts); also the oldest-ready age in counts.
CREATE INDEX messages_ready_queue ON messages (queue, seq) WHERE state = 'ready';
-- Push: oldest ready first per (queue, domain) lane (claim-lanes.ts), walked by skip-scan to list lanes.
CREATE INDEX messages_ready_lane ON messages (queue, domain, seq) WHERE state = 'ready' AND domain <> '';
-- Due times: push ones are promoted a lead ahead of their time, pull ones only when due (wake.ts).
CREATE INDEX messages_scheduled_push ON messages (deliver_at) WHERE state = 'scheduled' AND domain <> '';
CREATE INDEX messages_scheduled_pull ON messages (deliver_at) WHERE state = 'scheduled' AND domain = '';
-- Deadlines of pull leases and push claims, oldest first (wake.ts). lease_until is set exactly while a
-- message is leased or inflight. Why the predicate is not "state IN ('leased', 'inflight')": acks and
-- outcomes name state = 'leased' or 'inflight', which would imply that predicate, and with statistics
-- from when nothing was leased the planner then reads every open lease through this index and hashes
-- them instead of probing the primary key once per receipt. EXPLAIN ANALYZE, ack of 100 with 20,000
-- leases open: "Index Scan using messages_leases … rows=20000", 25.9 ms; with this predicate:
-- "Index Scan using messages_pkey … loops=100", 0.9 ms.
CREATE INDEX messages_leases ON messages (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX messages_dead ON messages (queue, id) WHERE state = 'dead';
-- Retention takes the oldest finished rows (purge.ts). Costs an ack or a delivery one index entry;
-- SQLite sweeps by id instead, but that needs a cursor in one node's memory.
CREATE INDEX messages_finished ON messages (updated_at) WHERE state IN ('delivered', 'acked', 'cancelled');

CREATE TABLE payloads (
  id      bigint PRIMARY KEY,                  -- messages.id
  headers text   NOT NULL,                     -- JSON array of [name, value], as received
  body    bytea  NOT NULL
);

CREATE TABLE attempts (
  seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id  bigint  NOT NULL,
  attempt     integer NOT NULL,
  started_at  bigint  NOT NULL,
  status      integer,
  latency_ms  integer NOT NULL,
  error       text,
  response    text
);
CREATE INDEX attempts_message ON attempts (message_id, seq);

CREATE TABLE dedupe (
  scope      text   NOT NULL,
  key        text   NOT NULL,
  message_id bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX dedupe_expiry ON dedupe (expires_at);

CREATE TABLE queues (
  name       text   PRIMARY KEY,
  tenant     text   NOT NULL,
  config     text   NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE tenants (
  name        text    PRIMARY KEY,
  concurrency integer,
  created_at  bigint  NOT NULL
);
CREATE TABLE api_keys (
  hash       text   PRIMARY KEY,
  tenant     text   NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE domain_limits (
  key             text PRIMARY KEY,
  concurrency     integer,
  rate_per_second double precision,
  burst           integer
);
CREATE TABLE schedules (
  name        text    PRIMARY KEY,
  tenant      text    NOT NULL,
  spec        text    NOT NULL,
  paused      boolean NOT NULL,
  next_run_at bigint,
  last_run_at bigint,
  created_at  bigint  NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'queue owners, stored bytes, tenant quotas, API key ids, file settings, listing indexes',
    // What the SQLite store's migrations 4 to 6 added, on this schema. Its message-id high-water mark
    // (its migration 4) has no counterpart: the sequence never issues an id twice.
    sql: `
-- Which tenant a queue name belongs to while any message of it is stored, so that the name cannot
-- pass to another tenant even when its definition is gone (upsertQueue checks it). Seeded from the
-- definitions, then from the messages of queues without one.
CREATE TABLE queue_owners (
  queue  text PRIMARY KEY,
  tenant text NOT NULL
);
INSERT INTO queue_owners (queue, tenant) SELECT name, tenant FROM queues;
INSERT INTO queue_owners (queue, tenant) SELECT queue, min(tenant) FROM messages GROUP BY queue ON CONFLICT (queue) DO NOTHING;

-- Bytes each message takes (storedSize: body and headers as stored), on its own row. queueCounts sums
-- them in the GROUP BY it already makes, so a queue's stored bytes are exact in every snapshot, and no
-- append updates a shared per-queue counter row: on PostgreSQL that row's lock would be held until
-- each commit and serialise every append to the queue, from every node.
ALTER TABLE messages ADD COLUMN stored_bytes integer NOT NULL DEFAULT 0;
UPDATE messages m SET stored_bytes = octet_length(p.body) + octet_length(p.headers) FROM payloads p WHERE p.id = m.id;
ALTER TABLE messages ALTER COLUMN stored_bytes DROP DEFAULT;

-- Tenant quotas (limits.tenants.<t>.maxDepth and maxStoredBytes), kept with the tenant.
ALTER TABLE tenants ADD COLUMN max_depth bigint;
ALTER TABLE tenants ADD COLUMN max_stored_bytes bigint;

-- API keys: a public id (to list and revoke by, unique within the tenant), a display prefix of the
-- key, and when it was last used (written lazily by the caller). A key stored before has no prefix;
-- its id is the start of its hash.
ALTER TABLE api_keys ADD COLUMN id text;
ALTER TABLE api_keys ADD COLUMN prefix text;
ALTER TABLE api_keys ADD COLUMN last_used_at bigint;
UPDATE api_keys SET id = substr(hash, 1, 16);
ALTER TABLE api_keys ALTER COLUMN id SET NOT NULL;
CREATE UNIQUE INDEX api_keys_id ON api_keys (tenant, id);

-- The value of each sluice.yaml setting as last applied (config/file-settings.ts).
CREATE TABLE file_settings (
  kind    text NOT NULL,                     -- queue | schedule | domainLimit | tenantLimit
  name    text NOT NULL,
  setting text NOT NULL,
  value   text NOT NULL,                     -- JSON of the file's value when it was last applied
  PRIMARY KEY (kind, name, setting)
);

-- Listings of one state newest first read an index per queue (sql/list-messages.ts), so that a page
-- of scheduled or in-flight messages never walks the rows of other states. Dead letters get the
-- same shape in seq order: ordered by id, the planner may walk the primary key instead and filter
-- (migration 1 says why claims order by seq).
CREATE INDEX messages_scheduled_queue ON messages (queue, seq) WHERE state = 'scheduled';
CREATE INDEX messages_inflight_queue ON messages (queue, seq) WHERE state = 'inflight';
DROP INDEX messages_dead;
CREATE INDEX messages_dead_queue ON messages (queue, seq) WHERE state = 'dead';
`,
  },
  {
    version: 3,
    name: 'nodes of a cluster',
    sql: `
-- One row per running node, written by its heartbeat with the database's clock. A node whose
-- seen_at is old is dead: the leader hands its push claims back (cluster.ts). A claim token starts
-- with the id of the node that holds it, so a node's claims are found without a column of their own.
CREATE TABLE nodes (
  id              text    PRIMARY KEY,
  url             text    NOT NULL,
  version         text    NOT NULL,
  started_at      bigint  NOT NULL,
  seen_at         bigint  NOT NULL,
  per_node_limits boolean NOT NULL,
  leader          boolean NOT NULL DEFAULT false
);
`,
  },
  {
    version: 4,
    name: 'nodes sharing limits in Redis',
    sql: `
-- A node started with Redis enforces its limits for the whole cluster: it may join other such nodes.
ALTER TABLE nodes ADD COLUMN shared_limits boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 5,
    name: 'routed messages sharing a payload; sources made through the API',
    sql: `
-- Routing: the messages of one routed request share its one payload row. payload_id is NULL for a
-- message with a payload of its own (payloads.id = id); the messages of one routed request all carry
-- the id of the payload they share. A shared payload counts the messages naming it (refs; NULL: one
-- message owns it) and goes with the last of them (purge.ts): a count, not an index on payload_id
-- that every routed message would add an entry to.
ALTER TABLE messages ADD COLUMN payload_id bigint;
ALTER TABLE payloads ADD COLUMN refs integer;

-- Sources made through the API (PUT /v1/sources/{name}), owned by a tenant like queues.
CREATE TABLE sources (
  name       text   PRIMARY KEY,
  tenant     text   NOT NULL,
  config     text   NOT NULL,
  created_at bigint NOT NULL
);
`,
  },
  {
    version: 6,
    name: 'message priorities',
    sql: `
-- Priorities (0 least urgent … 9 most, 5 by default): ready messages go out highest priority first,
-- FIFO within a priority. A lane is claimed in (priority DESC, seq) order, so its index gains the
-- priority. Pull queues keep (queue, seq), which listings read in arrival order; messages of any
-- other priority than the default are also in a small partial index by priority, from which a lease
-- takes the more urgent ones before and the less urgent ones after the default (lease-batch.ts).
-- Ingest at the default priority maintains nothing more.
ALTER TABLE messages ADD COLUMN priority smallint NOT NULL DEFAULT 5;
DROP INDEX messages_ready_lane;
CREATE INDEX messages_ready_lane ON messages (queue, domain, priority DESC, seq) WHERE state = 'ready' AND domain <> '';
CREATE INDEX messages_ready_priority ON messages (queue, priority DESC, seq) WHERE state = 'ready' AND priority <> 5;
`,
  },
  {
    version: 7,
    name: 'schedules count their runs',
    sql: `
-- Schedules count their runs (maxRuns, GET's runs): a tick adds its messages to the count in the
-- transaction that appends them, and only if next_run_at and runs are still what the firing node
-- read (catalog.ts, fireScheduleIn), so of two nodes the second counts nothing. Rows start at 0.
ALTER TABLE schedules ADD COLUMN runs integer NOT NULL DEFAULT 0;
`,
  },
  {
    version: 8,
    name: 'the vault and templates',
    sql: `
-- Secrets and templates (PUT /v1/secrets/{name}, PUT /v1/templates/{name}), owned by a tenant and
-- named within it. A secret is kept only sealed (AES-256-GCM, secrets/seal.ts) with the fingerprint
-- of the key that sealed it; its value is never stored. Every node reads both into memory and
-- re-reads them when another node signals a change (catalog kinds 'secrets' and 'templates').
CREATE TABLE secrets (
  tenant     text   NOT NULL,
  name       text   NOT NULL,
  sealed     text   NOT NULL,
  key_id     text   NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant, name)
);
CREATE TABLE templates (
  tenant     text   NOT NULL,
  name       text   NOT NULL,
  config     text   NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant, name)
);
`,
  },
  {
    version: 9,
    name: 'workflows and their runs',
    sql: `
-- Workflows (PUT /v1/workflows/{name}) and their runs, as SQLite's migration 11 has them. A run keeps
-- the definition it started with, its variables, and one row per step it took (a loop takes a step
-- again under a new seq) with the step's response. The message of a pending step names the run and
-- step in its origin; the transaction that records its delivery also moves the run on, and only
-- while the run is at the version the change was worked out from (version, bumped by every change).
-- A repeated idempotency key meets the unique index: of two runs started with one key at once, the
-- second's insert waits for the first's commit and then does nothing (workflow-runs.ts).
CREATE TABLE workflows (
  tenant     text   NOT NULL,
  name       text   NOT NULL,
  config     text   NOT NULL,          -- JSON of the workflow as PUT took it
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant, name)
);
CREATE TABLE workflow_runs (
  id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- never reused
  tenant          text    NOT NULL,
  workflow        text    NOT NULL,
  definition      text    NOT NULL,    -- JSON of the workflow as the run started with it
  vars            text    NOT NULL,
  state           text    NOT NULL,
  error           text,
  idempotency_key text,
  created_at      bigint  NOT NULL,
  updated_at      bigint  NOT NULL,
  version         integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX workflow_runs_idempotency ON workflow_runs (tenant, workflow, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (tenant, workflow, id);
CREATE INDEX workflow_runs_finished ON workflow_runs (updated_at) WHERE state <> 'running';  -- retention
CREATE TABLE workflow_steps (
  run_id     bigint  NOT NULL,
  seq        integer NOT NULL,
  name       text    NOT NULL,
  state      text    NOT NULL,
  message_id text,                     -- the step's message id as the API shows it, as in SQLite
  attempts   integer NOT NULL,
  response   text,                     -- JSON of { status, headers, body }
  error      text,
  updated_at bigint  NOT NULL,
  PRIMARY KEY (run_id, seq)
);
`,
  },
];

/** Schema names are put into SQL (search_path, CREATE SCHEMA): only plain lower-case identifiers. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`schema must be a lower-case identifier of at most 63 characters ([a-z_][a-z0-9_]*), got ${JSON.stringify(schema)}`);
  }
  return schema;
}

/**
 * Bring `schema` up to the newest migration. Holds a session advisory lock keyed by the schema for
 * the whole run, so two nodes starting together migrate once: the second waits, then finds every
 * version applied. Each migration commits with its version row, so a crash in the middle leaves a
 * schema at a known version.
 */
export async function migrate(client: PoolClient, schema: string): Promise<number[]> {
  const lockKey = `sluice.migrate.${checkSchemaName(schema)}`;
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    const applied = new Set(done.rows.map((row) => row.version));
    const ran: number[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path TO ${schema}`);
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`PostgreSQL migration ${migration.version} (${migration.name}) failed`, { cause: error });
      }
      ran.push(migration.version);
    }
    return ran;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
  }
}
