import type { AttemptRecord, HeaderPair, MessageState, StoredMessage } from '../types.js';

/** A messages row as SQLite returns it. */
export interface MessageRow {
  seq: number;
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
}

export function toStoredMessage(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    id: String(row.seq),
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
  };
  if (row.url !== null) message.url = row.url;
  if (row.lease_until !== null) message.leaseUntil = row.lease_until;
  if (row.retry !== null) message.retry = row.retry;
  if (row.last_error !== null) message.lastError = row.last_error;
  return message;
}

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

/** Public ids are the arrival sequence as a decimal string; anything else names no message. */
export function parseId(id: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return undefined;
  const seq = Number(id);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** A receipt is "<id>.<lease token>": it names one lease of one message. */
export function parseReceipt(receipt: unknown): { seq: number; token: string } | undefined {
  if (typeof receipt !== 'string') return undefined;
  const dot = receipt.indexOf('.');
  if (dot < 0) return undefined;
  const seq = parseId(receipt.slice(0, dot));
  const token = receipt.slice(dot + 1);
  if (seq === undefined || !/^[0-9a-f]{16,64}$/.test(token)) return undefined;
  return { seq, token };
}
