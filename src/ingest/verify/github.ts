import { z } from 'zod';
import { secretSchema, type VerifyInput, type VerifyResult } from './common.js';
import { verifyHmacSha256 } from './hmac-sha256.js';

/** GitHub: `x-hub-signature-256: sha256=<hex>`, HMAC-SHA256 of the body with the webhook secret. */
export const githubVerifySchema = z
  .object({
    type: z.literal('github'),
    /** The webhook's secret, as entered in the GitHub settings. */
    secret: secretSchema,
  })
  .strict();
export type GithubVerifyConfig = z.output<typeof githubVerifySchema>;

/** Checks a GitHub webhook: the generic HMAC check with GitHub's header and prefix. The legacy SHA-1 `x-hub-signature` header is not accepted. */
export function verifyGithub(config: GithubVerifyConfig, input: VerifyInput): VerifyResult {
  return verifyHmacSha256(
    { type: 'hmac-sha256', secret: config.secret, header: 'x-hub-signature-256', encoding: 'hex', prefix: 'sha256=' },
    input,
  );
}
