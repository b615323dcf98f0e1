import type { AttemptRecord, HeaderPair, MessageState, StoredMessage } from '../types.js';

/** A messages row joined with its payload, as the queries here return it (int8 parsed to number, see pool.ts). */
export interface MessageRow {
  id: number;
  queue: string;
  tenant: string;
  state: string;
  method: string;
  path: string;
  query: string;
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
  headers: string;
  body: Buffer;
}

/** The message columns every query that returns messages selects, qualified by `m`. */
export const MESSAGE_COLUMNS = `m.id, m.queue, m.tenant, m.state, m.method, m.path, m.query, m.url, m.domain, m.received_at,
  m.deliver_at, m.attempts, m.lease_token, m.lease_until, m.updated_at, m.origin, m.retry, m.last_error`;

export function toStoredMessage(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    id: String(row.id),
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

/**
 * Public ids are the sequence value as a decimal string; anything else names no message. At most 18
 * digits, so every accepted id fits a bigint and the cast in SQL cannot fail.
 */
export function parseId(id: string): string | undefined {
  return /^[1-9][0-9]{0,17}$/.test(id) ? id : undefined;
}

/** A receipt is "<id>.<lease token>": it names one lease of one message. */
export function parseReceipt(receipt: unknown): { id: string; token: string } | undefined {
  if (typeof receipt !== 'string') return undefined;
  const dot = receipt.indexOf('.');
  if (dot < 0) return undefined;
  const id = parseId(receipt.slice(0, dot));
  const token = receipt.slice(dot + 1);
  if (id === undefined || !/^[0-9a-f]{16,64}$/.test(token)) return undefined;
  return { id, token };
}

/**
 * The receipts that can name a lease, each once (a repeat is stale, as it is on SQLite), and the
 * rest, already known to be stale.
 */
export function splitReceipts(receipts: string[]): { ids: string[]; tokens: string[]; stale: string[] } {
  const seen = new Set<string>();
  const ids: string[] = [];
  const tokens: string[] = [];
  const stale: string[] = [];
  for (const receipt of receipts) {
    const parsed = parseReceipt(receipt);
    if (!parsed || seen.has(receipt)) {
      stale.push(String(receipt));
      continue;
    }
    seen.add(receipt);
    ids.push(parsed.id);
    tokens.push(parsed.token);
  }
  return { ids, tokens, stale };
}
