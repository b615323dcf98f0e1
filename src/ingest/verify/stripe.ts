import { z } from 'zod';
import {
  failed,
  hmacSha256,
  matchesAny,
  parseUnixSeconds,
  PASSED,
  secretSchema,
  singleHeader,
  toleranceSchema,
  withinTolerance,
  decodeHex,
  type VerifyInput,
  type VerifyResult,
} from './common.js';

/** Stripe: `stripe-signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 over `${t}.${body}`. */
export const stripeVerifySchema = z
  .object({
    type: z.literal('stripe'),
    /** The endpoint's signing secret (`whsec_...`), used as the HMAC key exactly as given. */
    secret: secretSchema,
    /** How far the signed timestamp may be from now, in seconds (default 300, Stripe's own). */
    toleranceSec: toleranceSchema,
  })
  .strict();
export type StripeVerifyConfig = z.output<typeof stripeVerifySchema>;

interface StripeSignatureHeader {
  timestamp: string;
  signatures: string[];
}

/**
 * The parts of a `stripe-signature` header. Unknown schemes (`v0`, future ones) are skipped, as
 * Stripe asks; several `v1` entries appear while a secret is being rolled.
 */
function parseStripeHeader(header: string): StripeSignatureHeader | undefined {
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 't') timestamp = value;
    else if (key === 'v1') signatures.push(value);
  }
  return timestamp === undefined ? undefined : { timestamp, signatures };
}

/**
 * Checks a Stripe webhook. The timestamp is part of the signed content, so a fresh timestamp on a
 * replayed body does not help an attacker.
 */
export function verifyStripe(config: StripeVerifyConfig, input: VerifyInput, nowMs: number): VerifyResult {
  const header = singleHeader(input, 'stripe-signature');
  if (header === undefined) return failed('missing stripe-signature header');
  const parsed = parseStripeHeader(header);
  if (parsed === undefined) return failed('stripe-signature header has no timestamp');
  const timestampSec = parseUnixSeconds(parsed.timestamp);
  if (timestampSec === undefined) return failed('stripe-signature timestamp is not a number');
  if (parsed.signatures.length === 0) return failed('stripe-signature header has no v1 signature');
  if (!withinTolerance(timestampSec, nowMs, config.toleranceSec)) return failed('stripe-signature timestamp outside tolerance');
  const expected = hmacSha256(config.secret, `${parsed.timestamp}.`, input.rawBody);
  return matchesAny(expected, parsed.signatures.map(decodeHex)) ? PASSED : failed('stripe signature does not match');
}
