import { z } from 'zod';
import { MESSAGE_STATES, type AttemptRecord, type HeaderPair, type MessageState, type StoredMessage } from '../store/types.js';
import { SECRET_SLOTS_HEADER, secretNamesOf } from '../templates/secret-slots.js';
import { apiSchema } from './api-schemas.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

// ── response shapes: the OpenAPI document shows these, and the views below are typed by them ──

/** A time in API answers: RFC 3339 in UTC, as Date#toISOString writes it. */
export const timestampSchema = z.string().meta({ format: 'date-time', examples: ['2026-01-31T09:00:00.000Z'] });

/** Headers as headerObject gives them: lower-case names, repeated headers joined with ", ". */
export const headersViewSchema = z.record(z.string(), z.string()).meta({ description: 'Lower-case header names; a repeated header is joined with ", "' });

export const messageStateSchema = z.enum(MESSAGE_STATES as [MessageState, ...MessageState[]]);

/** bodyFields: exactly one of the two is present. */
export const bodyFieldsShape = {
  body: z.string().optional().meta({ description: 'The body as text, when its bytes are valid UTF-8' }),
  bodyBase64: z.string().optional().meta({ description: 'The body in base64, when it is not valid UTF-8' }),
};

export const attemptViewSchema = apiSchema(
  'Attempt',
  z.object({
    attempt: z.number().int().meta({ description: 'Counted attempt number; a Retry-After wait does not count, so two records may share one' }),
    at: timestampSchema,
    status: z.number().int().nullable().meta({ description: 'HTTP status, or null when no response came' }),
    latencyMs: z.number(),
    error: z.string().nullable(),
    response: z.string().nullable().meta({ description: 'First KiB of the response body' }),
  }),
);
export type AttemptView = z.output<typeof attemptViewSchema>;

export const messageViewSchema = apiSchema(
  'Message',
  z.object({
    id: z.string(),
    queue: z.string(),
    tenant: z.string(),
    state: messageStateSchema,
    method: z.string(),
    path: z.string(),
    query: z.string(),
    headers: headersViewSchema,
    contentType: z.string().optional(),
    ...bodyFieldsShape,
    receivedAt: timestampSchema,
    deliverAt: timestampSchema,
    attemptCount: z.number().int().meta({ description: 'Pull: times received; push: delivery attempts made' }),
    priority: z.number().int().meta({ description: '0 (least urgent) to 9 (most urgent)' }),
    origin: z.string().meta({ description: '`api`, `schedule:<name>` or `source:<name>`' }),
    url: z.string().optional().meta({ description: 'Push: the delivery target' }),
    domain: z.string().optional().meta({ description: 'Push: the limit key of the target' }),
    lastError: z.string().optional(),
    secrets: z
      .array(z.string())
      .optional()
      .meta({ description: 'Made from a template: the vault secrets filled in when it is sent, in its tenant (they stand as `{{ secrets.name }}` here)' }),
    attempts: z.array(attemptViewSchema).optional().meta({ description: 'Only when one message is asked for' }),
  }),
);
export type MessageView = z.output<typeof messageViewSchema>;

/** One page of a newest-first listing. */
export const messagePageSchema = apiSchema(
  'MessagePage',
  z.object({
    messages: z.array(messageViewSchema),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }),
  }),
);

// ── views ─────────────────────────────────────────────────────

/** Body as UTF-8 text when the bytes are valid UTF-8, else base64. Never interpreted, never HTML. */
export function bodyFields(body: Buffer): { body: string } | { bodyBase64: string } {
  try {
    return { body: strictUtf8.decode(body) };
  } catch {
    return { bodyBase64: body.toString('base64') };
  }
}

/**
 * Headers as a lower-case object; repeated headers are joined with ", " as HTTP allows. The object
 * has no prototype, so a header named `constructor` or `__proto__` is read and set as itself. The
 * stored list of a message's secret slots (templates/secret-slots.ts) is no header and not shown.
 */
export function headerObject(pairs: HeaderPair[]): Record<string, string> {
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, value] of pairs) {
    if (name === SECRET_SLOTS_HEADER) continue;
    const key = name.toLowerCase();
    const before = headers[key];
    headers[key] = before === undefined ? value : `${before}, ${value}`;
  }
  return headers;
}

function contentTypeOf(pairs: HeaderPair[]): string | undefined {
  return pairs.find(([name]) => name.toLowerCase() === 'content-type')?.[1];
}

/** The JSON shape of one message in API answers. */
export function messageView(message: StoredMessage, attempts?: AttemptRecord[]): MessageView {
  const view: MessageView = {
    id: message.id,
    queue: message.queue,
    tenant: message.tenant,
    state: message.state,
    method: message.method,
    path: message.path,
    query: message.query,
    headers: headerObject(message.headers),
    contentType: contentTypeOf(message.headers),
    ...bodyFields(message.body),
    receivedAt: new Date(message.receivedAt).toISOString(),
    deliverAt: new Date(message.deliverAt).toISOString(),
    attemptCount: message.attempts,
    priority: message.priority,
    origin: message.origin,
  };
  if (message.url !== undefined) view.url = message.url;
  if (message.domain !== '') view.domain = message.domain;
  if (message.lastError !== undefined) view.lastError = message.lastError;
  const secrets = secretNamesOf(message);
  if (secrets.length > 0) view.secrets = secrets;
  if (attempts) view.attempts = attempts.map(attemptView);
  return view;
}

export function attemptView(attempt: AttemptRecord): AttemptView {
  return {
    attempt: attempt.attempt,
    at: new Date(attempt.startedAt).toISOString(),
    status: attempt.status ?? null,
    latencyMs: attempt.latencyMs,
    error: attempt.error ?? null,
    response: attempt.response ?? null,
  };
}
