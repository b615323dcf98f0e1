import { z } from 'zod';
import { decodeBase64, equalBytes, failed, hmacSha256, PASSED, secretSchema, singleHeader, type VerifyInput, type VerifyResult } from './common.js';

/** Shopify: `x-shopify-hmac-sha256: <base64>`, HMAC-SHA256 of the body with the app's client secret. */
export const shopifyVerifySchema = z
  .object({
    type: z.literal('shopify'),
    /** The app's client secret (or the store's webhook signing key for store-created webhooks). */
    secret: secretSchema,
  })
  .strict();
export type ShopifyVerifyConfig = z.output<typeof shopifyVerifySchema>;

/** Checks a Shopify webhook. Shopify signs no timestamp, so replays are left to dedupe. */
export function verifyShopify(config: ShopifyVerifyConfig, input: VerifyInput): VerifyResult {
  const header = singleHeader(input, 'x-shopify-hmac-sha256');
  if (header === undefined) return failed('missing x-shopify-hmac-sha256 header');
  const received = decodeBase64(header.trim());
  if (received === undefined) return failed('x-shopify-hmac-sha256 is not base64');
  const expected = hmacSha256(config.secret, input.rawBody);
  return equalBytes(expected, received) ? PASSED : failed('shopify signature does not match');
}
