import { storedMessage, type MessageColumns } from '../rows.js';
import type { StoredMessage } from '../types.js';

export { toAttempt, type AttemptRow } from '../rows.js';

/** A messages row joined with its payload, as the queries here return it (int8 parsed to number, see pool.ts). */
export interface MessageRow extends MessageColumns {
  id: number;
}

/** The message columns every query that returns messages selects, qualified by `m`. */
export const MESSAGE_COLUMNS = `m.id, m.queue, m.tenant, m.state, m.method, m.path, m.query, m.url, m.domain, m.received_at,
  m.deliver_at, m.attempts, m.lease_token, m.lease_until, m.updated_at, m.origin, m.retry, m.last_error, m.payload_id, m.priority`;

export function toStoredMessage(row: MessageRow): StoredMessage {
  return storedMessage(row.id, row);
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
