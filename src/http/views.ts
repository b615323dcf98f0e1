import type { AttemptRecord, HeaderPair, StoredMessage } from '../store/types.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

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
 * has no prototype, so a header named `constructor` or `__proto__` is read and set as itself.
 */
export function headerObject(pairs: HeaderPair[]): Record<string, string> {
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, value] of pairs) {
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
export function messageView(message: StoredMessage, attempts?: AttemptRecord[]): Record<string, unknown> {
  const view: Record<string, unknown> = {
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
    origin: message.origin,
  };
  if (message.url !== undefined) view.url = message.url;
  if (message.domain !== '') view.domain = message.domain;
  if (message.lastError !== undefined) view.lastError = message.lastError;
  if (attempts) view.attempts = attempts.map(attemptView);
  return view;
}

export function attemptView(attempt: AttemptRecord): Record<string, unknown> {
  return {
    attempt: attempt.attempt,
    at: new Date(attempt.startedAt).toISOString(),
    status: attempt.status ?? null,
    latencyMs: attempt.latencyMs,
    error: attempt.error ?? null,
    response: attempt.response ?? null,
  };
}
