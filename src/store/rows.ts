import {
  DEFAULT_PRIORITY,
  type AttemptRecord,
  type HeaderPair,
  type MessageState,
  type QueueRecord,
  type SecretRecord,
  type SourceRecord,
  type StoredMessage,
  type TemplateRecord,
  type RunRecord,
  type RunState,
  type RunStep,
  type StepResponse,
  type StepState,
} from './types.js';

/**
 * The columns of a stored message that both backends keep under the same names, as their SQL returns
 * them (the id apart: `seq` in SQLite, `id` in PostgreSQL), and the one way they become a message.
 */
export interface MessageColumns {
  queue: string;
  tenant: string;
  state: string;
  method: string;
  path: string;
  query: string;
  headers: string;
  body: Buffer;
  url: string | null;
  domain: string;
  received_at: number;
  deliver_at: number;
  attempts: number;
  lease_token: string | null;
  lease_until: number | null;
  updated_at: number;
  origin: string;
  retry: string | null;
  last_error: string | null;
  priority: number;
}

export function storedMessage(id: number, row: MessageColumns): StoredMessage {
  const message: StoredMessage = {
    id: String(id),
    queue: row.queue,
    tenant: row.tenant,
    state: row.state as MessageState,
    method: row.method,
    path: row.path,
    query: row.query,
    headers: JSON.parse(row.headers) as HeaderPair[],
    body: row.body,
    domain: row.domain,
    receivedAt: row.received_at,
    deliverAt: row.deliver_at,
    attempts: row.attempts,
    updatedAt: row.updated_at,
    origin: row.origin,
    priority: row.priority ?? DEFAULT_PRIORITY,
  };
  if (row.url !== null) message.url = row.url;
  if (row.lease_until !== null) message.leaseUntil = row.lease_until;
  if (row.retry !== null) message.retry = row.retry;
  if (row.last_error !== null) message.lastError = row.last_error;
  return message;
}

/** An attempts row, the same in both backends. */
export interface AttemptRow {
  attempt: number;
  started_at: number;
  status: number | null;
  latency_ms: number;
  error: string | null;
  response: string | null;
}

export function toAttempt(row: AttemptRow): AttemptRecord {
  const record: AttemptRecord = { attempt: row.attempt, startedAt: row.started_at, latencyMs: row.latency_ms };
  if (row.status !== null) record.status = row.status;
  if (row.error !== null) record.error = row.error;
  if (row.response !== null) record.response = row.response;
  return record;
}

/** A queues or sources row (a name owned by a tenant, its definition as JSON), the same in both backends. */
export interface NamedConfigRow {
  name: string;
  tenant: string;
  config: string;
  created_at: number;
}

export function toNamedConfig(row: NamedConfigRow): QueueRecord & SourceRecord {
  return { name: row.name, tenant: row.tenant, config: JSON.parse(row.config) as unknown, createdAt: row.created_at };
}

/** A secrets row, the same in both backends. */
export interface SecretRow {
  tenant: string;
  name: string;
  sealed: string;
  key_id: string;
  created_at: number;
  updated_at: number;
}

export function toSecret(row: SecretRow): SecretRecord {
  return { tenant: row.tenant, name: row.name, sealed: row.sealed, keyId: row.key_id, createdAt: row.created_at, updatedAt: row.updated_at };
}

/** A templates or workflows row (tenant-rows.ts), the same in both backends. */
export interface TemplateRow {
  tenant: string;
  name: string;
  config: string;
  created_at: number;
  updated_at: number;
}

export function toTemplate(row: TemplateRow): TemplateRecord {
  return { tenant: row.tenant, name: row.name, config: JSON.parse(row.config) as unknown, createdAt: row.created_at, updatedAt: row.updated_at };
}


/** A workflow_runs row, the same in both backends but for the id (SQLite: seq). */
export interface RunRow {
  id: string | number;
  tenant: string;
  workflow: string;
  definition: string;
  vars: string;
  state: RunState;
  error: string | null;
  idempotency_key: string | null;
  created_at: number | string;
  updated_at: number | string;
  version: number;
}

export function toRun(row: RunRow): RunRecord {
  const run: RunRecord = {
    id: String(row.id),
    tenant: row.tenant,
    workflow: row.workflow,
    definition: JSON.parse(row.definition) as unknown,
    vars: JSON.parse(row.vars) as unknown,
    state: row.state,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    version: Number(row.version),
  };
  if (row.error !== null) run.error = row.error;
  if (row.idempotency_key !== null) run.idempotencyKey = row.idempotency_key;
  return run;
}

/** A workflow_steps row, the same in both backends. */
export interface StepRow {
  seq: number;
  name: string;
  state: StepState;
  message_id: string | null;
  attempts: number;
  response: string | null;
  error: string | null;
  updated_at: number | string;
}

export function toRunStep(row: StepRow): RunStep {
  const step: RunStep = { seq: Number(row.seq), name: row.name, state: row.state, attempts: Number(row.attempts), updatedAt: Number(row.updated_at) };
  if (row.message_id !== null) step.messageId = row.message_id;
  if (row.response !== null) step.response = JSON.parse(row.response) as StepResponse;
  if (row.error !== null) step.error = row.error;
  return step;
}

/** A step's columns as both backends bind them. */
export function stepParams(runId: string | number, step: RunStep): { run: string | number; seq: number; name: string; state: StepState; messageId: string | null; attempts: number; response: string | null; error: string | null; updatedAt: number } {
  return {
    run: runId,
    seq: step.seq,
    name: step.name,
    state: step.state,
    messageId: step.messageId ?? null,
    attempts: step.attempts,
    response: step.response === undefined ? null : JSON.stringify(step.response),
    error: step.error ?? null,
    updatedAt: step.updatedAt,
  };
}
