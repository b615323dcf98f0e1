import { z } from 'zod';
import { equalSecrets, failed, headerNameSchema, PASSED, secretSchema, singleHeader, type VerifyInput, type VerifyResult } from './common.js';

/**
 * A shared secret sent as is, in a header or in a query parameter: for senders that cannot sign
 * (many SaaS "webhook token" fields, n8n, cron services). Weaker than a signature — the body is not
 * covered — so prefer a signing scheme when the sender offers one.
 */
export const tokenVerifySchema = z
  .object({
    type: z.literal('token'),
    /** The expected token. */
    secret: secretSchema,
    /** The header carrying the token. For `authorization`, a `Bearer ` scheme is also accepted. */
    header: headerNameSchema.optional(),
    /** The query parameter carrying the token, e.g. `token` for `/in/src?token=...`. */
    query: z.string().min(1).max(128).optional(),
  })
  .strict()
  .refine((config) => (config.header === undefined) !== (config.query === undefined), {
    message: 'token verification needs exactly one of header or query',
  });
export type TokenVerifyConfig = z.output<typeof tokenVerifySchema>;

const BEARER = /^bearer\s+/i;

/** The token as the sender presented it, or undefined when absent or ambiguous. */
function presentedToken(config: TokenVerifyConfig, input: VerifyInput): string | undefined {
  if (config.query !== undefined) {
    const values = input.query.getAll(config.query);
    return values.length === 1 && values[0] !== '' ? values[0] : undefined;
  }
  const value = singleHeader(input, config.header ?? '');
  if (value !== undefined && config.header?.toLowerCase() === 'authorization') return value.replace(BEARER, '');
  return value;
}

/** Checks a shared token; the comparison does not reveal the token's length or content. */
export function verifyToken(config: TokenVerifyConfig, input: VerifyInput): VerifyResult {
  const token = presentedToken(config, input);
  if (token === undefined) {
    return failed(config.query !== undefined ? `missing ${config.query} query parameter` : `missing ${config.header?.toLowerCase()} header`);
  }
  return equalSecrets(config.secret, token) ? PASSED : failed('token does not match');
}
