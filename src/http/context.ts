import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { SluiceError, toProblem } from './errors.js';
import type { BodyWatch } from './incomplete-bodies.js';

/** JSON reply of a route handler. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Read a request body into one Buffer, refusing more than `limit` bytes. A declared Content-Length
 * over the limit is refused before anything is read; a body that grows past it is refused as soon
 * as it does, and the rest is never buffered. With a `watch` (see IncompleteBodies) every chunk
 * asks for room first, and a body cut off for time or room drops what it held and fails.
 */
export function readBody(req: IncomingMessage, limit: number, watch?: BodyWatch): Promise<Buffer> {
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
  let value: unknown = {};
  if (raw.length > 0) {
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new SluiceError('SLUICE_ERR_INVALID_JSON', (error as Error).message, { cause: error });
    }
  }
  return validate(schema, value);
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
