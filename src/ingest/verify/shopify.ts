import { z } from 'zod';
import { secretSchema, type VerifyInput, type VerifyResult } from './common.js';
import { verifyHmacSha256 } from './hmac-sha256.js';

/** Shopify: `x-shopify-hmac-sha256: <base64>`, HMAC-SHA256 of the body with the app's client secret. */
export const shopifyVerifySchema = z
  .object({
    type: z.literal('shopify'),
    /** The app's client secret (or the store's webhook signing key for store-created webhooks). */
    secret: secretSchema,
  })
  .strict();
export type ShopifyVerifyConfig = z.output<typeof shopifyVerifySchema>;

/** Checks a Shopify webhook: the generic HMAC check with Shopify's header, base64. Shopify signs no timestamp, so replays are left to dedupe. */
export function verifyShopify(config: ShopifyVerifyConfig, input: VerifyInput): VerifyResult {
  return verifyHmacSha256({ type: 'hmac-sha256', secret: config.secret, header: 'x-shopify-hmac-sha256', encoding: 'base64', prefix: '' }, input);
}
