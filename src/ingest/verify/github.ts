import { z } from 'zod';
import { decodeHex, equalBytes, failed, hmacSha256, PASSED, secretSchema, singleHeader, type VerifyInput, type VerifyResult } from './common.js';

/** GitHub: `x-hub-signature-256: sha256=<hex>`, HMAC-SHA256 of the body with the webhook secret. */
export const githubVerifySchema = z
  .object({
    type: z.literal('github'),
    /** The webhook's secret, as entered in the GitHub settings. */
    secret: secretSchema,
  })
  .strict();
export type GithubVerifyConfig = z.output<typeof githubVerifySchema>;

const PREFIX = 'sha256=';

/** Checks a GitHub webhook. The legacy SHA-1 `x-hub-signature` header is not accepted. */
export function verifyGithub(config: GithubVerifyConfig, input: VerifyInput): VerifyResult {
  const header = singleHeader(input, 'x-hub-signature-256');
  if (header === undefined) return failed('missing x-hub-signature-256 header');
  if (!header.startsWith(PREFIX)) return failed('x-hub-signature-256 must start with sha256=');
  const received = decodeHex(header.slice(PREFIX.length));
  if (received === undefined) return failed('x-hub-signature-256 is not hex');
  const expected = hmacSha256(config.secret, input.rawBody);
  return equalBytes(expected, received) ? PASSED : failed('github signature does not match');
}
