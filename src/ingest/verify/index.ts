import { z } from 'zod';
import type { VerifyInput, VerifyResult } from './common.js';
import { githubVerifySchema, verifyGithub } from './github.js';
import { hmacSha256VerifySchema, verifyHmacSha256 } from './hmac-sha256.js';
import { shopifyVerifySchema, verifyShopify } from './shopify.js';
import { standardWebhooksVerifySchema, verifyStandardWebhook } from './standard-webhooks.js';
import { stripeVerifySchema, verifyStripe } from './stripe.js';
import { tokenVerifySchema, verifyToken } from './token.js';

/**
 * Signature verification of ingested webhooks: one file per provider, joined here into one config
 * schema and one entry point. Every check runs over the exact bytes received, compares in constant
 * time, and turns missing or garbled headers into a failed result instead of an exception.
 */

export type { VerifyInput, VerifyResult } from './common.js';
export { signStandardWebhook, parseStandardWebhookSecrets } from './standard-webhooks.js';

/**
 * A source's `verify` block, discriminated on `type`. Every variant rejects unknown keys and fills
 * its defaults (`toleranceSec` 300, `encoding` hex, `prefix` '').
 *
 * @example
 * verify: { type: stripe, secret: "${STRIPE_WEBHOOK_SECRET}" }
 * verify: { type: hmac-sha256, secret: "${LINEAR_SECRET}", header: linear-signature }
 * verify: { type: token, secret: "${N8N_TOKEN}", query: token }
 */
export const verifyConfigSchema = z.discriminatedUnion('type', [
  stripeVerifySchema,
  githubVerifySchema,
  shopifyVerifySchema,
  standardWebhooksVerifySchema,
  hmacSha256VerifySchema,
  tokenVerifySchema,
]);

/** A validated `verify` block, defaults filled in. */
export type VerifyConfig = z.output<typeof verifyConfigSchema>;

/**
 * Whether `config` reads only headers and query (a token), so that a request can be verified, and
 * refused, before its body is read. Signatures cover the body and must wait for it.
 */
export function verifiesBeforeBody(config: VerifyConfig): boolean {
  return config.type === 'token';
}

/**
 * Whether a request carries a valid signature (or token) for `config`. `nowMs` is the current
 * time, for the timestamp checks of Stripe and Standard Webhooks. Never throws for any input.
 */
export function verifyRequest(config: VerifyConfig, input: VerifyInput, nowMs: number): VerifyResult {
  switch (config.type) {
    case 'stripe':
      return verifyStripe(config, input, nowMs);
    case 'github':
      return verifyGithub(config, input);
    case 'shopify':
      return verifyShopify(config, input);
    case 'standard-webhooks':
      return verifyStandardWebhook(config, input, nowMs);
    case 'hmac-sha256':
      return verifyHmacSha256(config, input);
    case 'token':
      return verifyToken(config, input);
  }
}
