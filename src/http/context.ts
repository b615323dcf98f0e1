import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { SluiceError, toProblem } from './errors.js';

/** JSON reply of a route handler: it has a body exactly when its route documents one. */
export type Reply<Body = unknown, Status extends number = number> = {
  status: Status;
  headers?: Record<string, string>;
} & ([Body] extends [undefined] ? { body?: undefined } : { body: Body });

/** What readBody asks of the watch over a body that is still arriving (IncompleteBodies gives one). */
export interface BodyRoom {
  /** `bytes` more arrived, to be held: false when there was no room and the body was cut off. */
  hold(bytes: number): boolean;
  /** The body arrived, or reading it failed: what it held is free. */
  done(): void;
  /** Set by the reader: drop what it holds and fail with this error. */
  onCut: ((error: SluiceError) => void) | undefined;
}

/**
 * Read a request body into one Buffer, refusing more than `limit` bytes. A declared Content-Length
 * over the limit is refused before anything is read; a body that grows past it is refused as soon
 * as it does, and the rest is never buffered. With a `watch` (see IncompleteBodies) every chunk
 * asks for room first, and a body cut off for time or room drops what it held and fails.
 */
export function readBody(req: IncomingMessage, limit: number, watch?: BodyRoom): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    watch?.done();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: SluiceError) => {
      req.off('data', onData);
      req.pause();
      chunks = [];
      watch?.done();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return fail(tooLarge(limit));
      if (watch && !watch.hold(chunk.length)) return; // cut off: `fail` has run
      chunks.push(chunk);
    };
    if (watch) watch.onCut = fail;
    req.on('data', onData);
    req.once('end', () => {
      watch?.done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.once('error', (error) => fail(new SluiceError('SLUICE_ERR_BAD_REQUEST', 'request body could not be read', { cause: error })));
    // A sender that hangs up mid-body: settle, so nothing waits forever on a request that is gone.
    req.once('close', () => {
      if (!req.complete) fail(new SluiceError('SLUICE_ERR_BAD_REQUEST', 'the connection closed before the body ended'));
    });
  });
}

/** Does the request declare a body that has not fully arrived? */
export function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;
}

function tooLarge(limit: number): SluiceError {
  return new SluiceError('SLUICE_ERR_BODY_TOO_LARGE', `body is larger than ${limit} bytes`, {
    extra: { limit },
    headers: { connection: 'close' },
  });
}

/** Parse a JSON request body and validate it; errors name the field. */
export async function readJson<T extends z.ZodType>(req: IncomingMessage, schema: T, limit: number): Promise<z.infer<T>> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/(.+\+)?json\b/i.test(type)) {
    throw new SluiceError('SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE', `content-type must be application/json, not ${type}`);
  }
  const raw = await readBody(req, limit);
  return validate(schema, raw.length > 0 ? parseJsonBody(raw) : {});
}

/**
 * Deepest nesting of arrays and objects an API body may have. Far beyond any real payload, and far
 * below what would exhaust the stack of whatever walks the value afterwards (validation, serialising
 * a message body): a body of 100,000 `[` answered 500 before this limit.
 */
export const MAX_JSON_DEPTH = 64;

/** Parse an API body: UTF-8 (RFC 8259), nested at most MAX_JSON_DEPTH deep, and valid JSON. */
export function parseJsonBody(raw: Buffer): unknown {
  // toString would silently turn bad bytes into U+FFFD, storing something the sender never sent.
  if (!isUtf8(raw)) throw new SluiceError('SLUICE_ERR_INVALID_JSON', 'the body is not valid UTF-8');
  if (nestingExceeds(raw, MAX_JSON_DEPTH)) {
    throw new SluiceError('SLUICE_ERR_JSON_TOO_DEEP', `the body nests arrays and objects more than ${MAX_JSON_DEPTH} deep`, {
      extra: { limit: MAX_JSON_DEPTH },
    });
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new SluiceError('SLUICE_ERR_INVALID_JSON', (error as Error).message, { cause: error });
  }
}

/**
 * Does the text open more than `limit` arrays or objects at once? One pass over the bytes that jumps
 * over strings (native indexOf: bodies are mostly string bytes); ~1 ns a byte. A malformed text is
 * left for JSON.parse to refuse.
 */
function nestingExceeds(bytes: Buffer, limit: number): boolean {
  let depth = 0;
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index]!;
    if (byte === 0x22) {
      index = closingQuote(bytes, index + 1);
    } else if (byte === 0x5b || byte === 0x7b) {
      depth += 1;
      if (depth > limit) return true;
    } else if (byte === 0x5d || byte === 0x7d) {
      depth -= 1;
    }
  }
  return false;
}

/** Index of the quote that ends a string opened before `from`: one not escaped by an odd run of backslashes. */
function closingQuote(bytes: Buffer, from: number): number {
  for (let quote = bytes.indexOf(0x22, from); quote >= 0; quote = bytes.indexOf(0x22, quote + 1)) {
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === 0x5c) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
  }
  return bytes.length;
}

/** Validate a value against a schema, throwing a 400 that names every bad field. */
export function validate<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    field: issue.path.join('.') || '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  const first = errors[0]!;
  throw new SluiceError('SLUICE_ERR_VALIDATION', `${first.field}: ${first.message}`, { extra: { errors } });
}

/**
 * Validate several values, each against its own schema, throwing one 400 that names every bad field
 * of all of them, each prefixed by its `at` (`messages.3.`).
 */
export function validateAll<T extends z.ZodType>(items: { schema: T; value: unknown; at: string }[]): z.infer<T>[] {
  const errors: { field: string; message: string }[] = [];
  const parsed = items.map(({ schema, value, at }) => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      const field = [at.replace(/\.$/, ''), ...issue.path.map(String)].filter((part) => part !== '').join('.') || '(body)';
      errors.push({ field, message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message });
    }
    return undefined;
  });
  if (errors.length === 0) return parsed as z.infer<T>[];
  const first = errors[0]!;
  throw new SluiceError('SLUICE_ERR_VALIDATION', `${first.field}: ${first.message}`, { extra: { errors } });
}

/** Refuse anything but GET and HEAD: the plain routes and page files read, never change. */
export function allowGet(req: IncomingMessage): void {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  throw new SluiceError('SLUICE_ERR_METHOD_NOT_ALLOWED', 'use GET', { headers: { allow: 'GET, HEAD' } });
}

/** Send a JSON reply. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Send an error as RFC 9457 problem+json. An answer given before the request's body has arrived (a
 * 401 from the headers, a 413) closes the connection, so the rest is never read. Once an answer is
 * out, a later error has nothing to say; one that came halfway through an answer ends the connection.
 */
export function sendProblem(res: ServerResponse, error: unknown, instance?: string): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const problem = toProblem(error, instance);
  const text = JSON.stringify(problem.body);
  const headers = res.req && bodyPending(res.req) ? { ...problem.headers, connection: 'close' } : problem.headers;
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
  if (headers.connection === 'close') res.once('finish', () => res.socket?.destroySoon());
}
