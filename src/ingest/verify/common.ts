import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Building blocks shared by the provider verifiers: reading headers without throwing, strict
 * decoding of hex and base64 signatures, and constant-time comparison.
 */

/** One received request, as much of it as a verifier or a dedupe rule may look at. */
export interface VerifyInput {
  /** Header names in lower case, as node:http gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The exact bytes received: signatures are computed over these, never over a re-serialised body. */
  rawBody: Buffer;
  /** The query string of the request URL. */
  query: URLSearchParams;
}

/** The outcome of a check. `reason` is short and safe to show to the sender. */
export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** The passing result, shared so that verifiers do not allocate one per request. */
export const PASSED: VerifyResult = Object.freeze({ ok: true });

/** A failing result with a reason for the sender. */
export function failed(reason: string): VerifyResult {
  return { ok: false, reason };
}

/** A shared secret: any non-empty string (`${ENV}` is resolved by the config loader before this). */
export const secretSchema = z.string().min(1, 'must not be empty');

/** An HTTP header name (RFC 9110 token). Matched case-insensitively. */
export const headerNameSchema = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');

/** Timestamp tolerance in seconds, both directions; providers document 5 minutes. */
export const toleranceSchema = z.number().int().positive().max(86_400).default(300);

/**
 * The single value of a header, or undefined when it is absent, empty, or sent in a form that
 * cannot be read unambiguously (several values).
 */
export function singleHeader(input: VerifyInput, name: string): string | undefined {
  const value = input.headers[name.toLowerCase()];
  const single = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
  return single === undefined || single === '' ? undefined : single;
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Bytes of a hex string, or undefined if it is not hex. Node's own decoder silently stops at the
 * first bad character, which would let garbage through as a shorter value.
 */
export function decodeHex(text: string): Buffer | undefined {
  return HEX.test(text) ? Buffer.from(text, 'hex') : undefined;
}

/** Bytes of a standard base64 string (padding optional), or undefined if it is not base64. */
export function decodeBase64(text: string): Buffer | undefined {
  if (text === '' || !BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** HMAC-SHA256 over the given parts in order; a Buffer part is fed as raw bytes. */
export function hmacSha256(key: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * Constant-time equality. Buffers of different lengths are unequal; the length check leaks only
 * the length of the value the sender supplied, which the sender already knows.
 */
export function equalBytes(expected: Buffer, received: Buffer | undefined): boolean {
  if (received === undefined || received.length !== expected.length) return false;
  return timingSafeEqual(expected, received);
}

/**
 * Constant-time equality of two strings of any length. Both are hashed first so that neither the
 * comparison time nor an early length mismatch tells the sender how long the secret is.
 */
export function equalSecrets(expected: string, received: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(received));
}

/**
 * Whether `expected` equals any candidate. Every candidate is compared, so the time taken does not
 * depend on which one matched.
 */
export function matchesAny(expected: Buffer, candidates: readonly (Buffer | undefined)[]): boolean {
  let matched = false;
  for (const candidate of candidates) matched = equalBytes(expected, candidate) || matched;
  return matched;
}

/** Unix seconds from a header value of decimal digits only, or undefined. */
export function parseUnixSeconds(text: string): number | undefined {
  if (!/^\d{1,12}$/.test(text)) return undefined;
  return Number(text);
}

/** Whether a signing time in seconds lies within `toleranceSec` of now, in either direction. */
export function withinTolerance(timestampSec: number, nowMs: number, toleranceSec: number): boolean {
  return Math.abs(nowMs / 1000 - timestampSec) <= toleranceSec;
}
