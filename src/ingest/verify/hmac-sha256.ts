import { z } from 'zod';
import {
  decodeBase64,
  decodeHex,
  equalBytes,
  failed,
  headerNameSchema,
  hmacSha256,
  PASSED,
  secretSchema,
  singleHeader,
  type VerifyInput,
  type VerifyResult,
} from './common.js';

/** Any provider that puts an HMAC-SHA256 of the raw body in one header (Linear, Typeform-style schemes and in-house senders). */
export const hmacSha256VerifySchema = z
  .object({
    type: z.literal('hmac-sha256'),
    /** The shared secret, used as the HMAC key exactly as given (UTF-8). */
    secret: secretSchema,
    /** The header carrying the signature, e.g. `x-signature`. Case-insensitive. */
    header: headerNameSchema,
    /** How the signature is written: `hex` (default) or standard `base64`. */
    encoding: z.enum(['hex', 'base64']).default('hex'),
    /** Text before the signature to strip, e.g. `sha256=` (default none). Must be present when set. */
    prefix: z.string().max(64).default(''),
  })
  .strict();
export type HmacSha256VerifyConfig = z.output<typeof hmacSha256VerifySchema>;

/** Checks a generic HMAC-SHA256 body signature. Hex is accepted in either letter case. */
export function verifyHmacSha256(config: HmacSha256VerifyConfig, input: VerifyInput): VerifyResult {
  const header = singleHeader(input, config.header);
  if (header === undefined) return failed(`missing ${config.header.toLowerCase()} header`);
  if (!header.startsWith(config.prefix)) return failed(`signature must start with ${config.prefix}`);
  const text = header.slice(config.prefix.length).trim();
  const received = config.encoding === 'hex' ? decodeHex(text) : decodeBase64(text);
  if (received === undefined) return failed(`signature is not ${config.encoding}`);
  const expected = hmacSha256(config.secret, input.rawBody);
  return equalBytes(expected, received) ? PASSED : failed('signature does not match');
}
