import { z } from 'zod';
import { secretReference } from '../../templates/placeholders.js';
import {
  decodeBase64,
  failed,
  hmacSha256,
  matchesAny,
  parseUnixSeconds,
  PASSED,
  singleHeader,
  toleranceSchema,
  withinTolerance,
  type VerifyInput,
  type VerifyResult,
} from './common.js';

/**
 * Standard Webhooks (standardwebhooks.com, also what Svix sends): headers `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`; HMAC-SHA256 over `${id}.${timestamp}.${body}` keyed
 * with the base64-decoded part of a `whsec_` secret.
 */

const SECRET_PREFIX = 'whsec_';

/**
 * The HMAC keys in a secret string: one or more `whsec_<base64>` separated by whitespace (several
 * while a secret is being rotated). Throws an Error naming the bad entry's position.
 */
export function parseStandardWebhookSecrets(secret: string): Buffer[] {
  const entries = secret.split(/\s+/).filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('secret must hold at least one whsec_<base64> key');
  return entries.map((entry, index) => {
    const key = entry.startsWith(SECRET_PREFIX) ? decodeBase64(entry.slice(SECRET_PREFIX.length)) : undefined;
    if (key === undefined || key.length === 0) throw new Error(`secret key ${index + 1} must look like whsec_<base64>`);
    return key;
  });
}

const standardSecretSchema = z.string().superRefine((secret, ctx) => {
  // A vault secret of the source's tenant ({{ secrets.name }}): its form is checked when it is read (secrets/verify-secret.ts).
  if (secretReference(secret) !== undefined) return;
  try {
    parseStandardWebhookSecrets(secret);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** Config of a Standard Webhooks source. */
export const standardWebhooksVerifySchema = z
  .object({
    type: z.literal('standard-webhooks'),
    /** `whsec_<base64>`; several separated by spaces are all accepted (rotation); or a vault secret, `{{ secrets.name }}`. */
    secret: standardSecretSchema,
    /** How far `webhook-timestamp` may be from now, in seconds, either direction (default 300). */
    toleranceSec: toleranceSchema,
  })
  .strict();
export type StandardWebhooksVerifyConfig = z.output<typeof standardWebhooksVerifySchema>;

/**
 * The header family the sender used. Svix-based senders still send `svix-*` names with the same
 * meaning; the three headers are always read from one family, never mixed.
 */
export function standardWebhookHeaderPrefix(input: VerifyInput): 'webhook-' | 'svix-' {
  if (singleHeader(input, 'webhook-signature') !== undefined || singleHeader(input, 'webhook-id') !== undefined) return 'webhook-';
  return singleHeader(input, 'svix-id') !== undefined ? 'svix-' : 'webhook-';
}

/** The `v1` signatures of a `webhook-signature` header; other versions (`v1a`) are skipped. */
function parseSignatureList(header: string): (Buffer | undefined)[] {
  const signatures: (Buffer | undefined)[] = [];
  for (const entry of header.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma >= 0 && entry.slice(0, comma) === 'v1') signatures.push(decodeBase64(entry.slice(comma + 1)));
  }
  return signatures;
}

/** Checks a Standard Webhooks request against every configured key. */
export function verifyStandardWebhook(config: StandardWebhooksVerifyConfig, input: VerifyInput, nowMs: number): VerifyResult {
  const prefix = standardWebhookHeaderPrefix(input);
  const id = singleHeader(input, `${prefix}id`);
  const timestamp = singleHeader(input, `${prefix}timestamp`);
  const header = singleHeader(input, `${prefix}signature`);
  if (id === undefined || timestamp === undefined || header === undefined) {
    return failed('missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  const timestampSec = parseUnixSeconds(timestamp);
  if (timestampSec === undefined) return failed('webhook-timestamp is not a number');
  if (!withinTolerance(timestampSec, nowMs, config.toleranceSec)) return failed('webhook-timestamp outside tolerance');
  const signatures = parseSignatureList(header);
  if (signatures.length === 0) return failed('webhook-signature has no v1 signature');
  let matched = false;
  for (const key of parseStandardWebhookSecrets(config.secret)) {
    matched = matchesAny(hmacSha256(key, `${id}.${timestamp}.`, input.rawBody), signatures) || matched;
  }
  return matched ? PASSED : failed('webhook signature does not match');
}

/**
 * The `webhook-signature` value for an outbound delivery: `v1,<base64>`, one entry per key in
 * `secret` (space-separated), so receivers holding either key during a rotation accept it.
 * Throws if `secret` is not `whsec_<base64>`.
 *
 * @example
 * const ts = Math.floor(clock.now() / 1000);
 * headers['webhook-signature'] = signStandardWebhook(queue.signingSecret, 'msg_42', ts, body);
 */
export function signStandardWebhook(secret: string, msgId: string, timestampSec: number, body: Buffer): string {
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) throw new Error('timestampSec must be a non-negative integer');
  return parseStandardWebhookSecrets(secret)
    .map((key) => `v1,${hmacSha256(key, `${msgId}.${timestampSec}.`, body).toString('base64')}`)
    .join(' ');
}
