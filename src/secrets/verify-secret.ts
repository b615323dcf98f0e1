import { parseStandardWebhookSecrets, type VerifyConfig } from '../ingest/verify/index.js';
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
