import { parseStandardWebhookSecrets, type VerifyConfig } from '../ingest/verify/index.js';
import type { HeaderPair, MessageFields } from '../store/types.js';
import { secretReference } from '../templates/placeholders.js';
import type { SecretSource } from './vault.js';

/**
 * A source's `verify` block with its secret read from the vault when it is written
 * `{{ secrets.name }}` (the source owner's vault), at each request: a secret changed in the vault
 * applies to the next request. Returns the block itself when its secret is not a vault reference
 * (no allocation on that path), or why the secret cannot be had: the request is then refused with
 * 503, since the sender did nothing wrong.
 */
export function withVaultSecret(config: VerifyConfig, tenant: () => string, vault: SecretSource): VerifyConfig | { failure: string } {
  if (!config.secret.startsWith('{{')) return config;
  const name = secretReference(config.secret);
  if (name === undefined) return config;
  const owner = tenant();
  const secret = vault.reveal(owner, name);
  if (!secret.ok) return { failure: `verify secret: ${secret.message}` };
  if (config.type === 'standard-webhooks') {
    try {
      parseStandardWebhookSecrets(secret.value);
    } catch {
      return { failure: `verify secret: secret "${name}" of tenant ${owner} is not a whsec_<base64> key` };
    }
  }
  return { ...config, secret: secret.value };
}

/** What a hidden token is stored as. */
const HIDDEN = '[vault secret]';

/**
 * A source that verifies with a token from the vault gets that token in every request, in a header
 * or a query parameter: the message is stored with it replaced (the rest of the request as it came),
 * so the vault's secret is not written in plain text with every message nor shown by the message
 * API. Changes `message` in place; does nothing for any other source.
 */
export function hideVaultToken(config: VerifyConfig, message: Pick<MessageFields, 'headers' | 'query'>): void {
  if (config.type !== 'token' || secretReference(config.secret) === undefined) return;
  if (config.header !== undefined) {
    const name = config.header.toLowerCase();
    message.headers = message.headers.map((pair): HeaderPair => (pair[0].toLowerCase() === name ? [pair[0], HIDDEN] : pair));
  }
  if (config.query !== undefined) {
    const name = config.query;
    message.query = message.query
      .split('&')
      .map((part) => {
        const rawName = part.split('=', 1)[0]!;
        return decodedName(rawName) === name ? `${rawName}=${encodeURIComponent(HIDDEN)}` : part;
      })
      .join('&');
  }
}

/** A query parameter's name as URLSearchParams reads it (`+` is a space, percent-escapes decoded). */
function decodedName(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
