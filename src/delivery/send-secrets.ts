import type { QueueConfig } from '../config/schema.js';
import { parseStandardWebhookSecrets } from '../ingest/verify/index.js';
import type { SecretSource } from '../secrets/vault.js';
import type { StoredMessage } from '../store/types.js';
import { secretReference } from '../templates/placeholders.js';
import { fillSecrets, hasSecretSlots, scrubSecrets } from '../templates/secret-slots.js';
import type { DeliveryResult } from './http-client.js';

/**
 * Secrets filled just before a delivery is sent, in the message's own tenant: the secrets of a
 * message made from a template (templates/secret-slots.ts), and a queue's signing secret kept in the
 * vault (`signingSecret: "{{ secrets.name }}"`). Read at each attempt, so a secret changed (or a key
 * rotated) while a message waited is the one it is sent with.
 */

/** What to send instead of the stored message and its queue's config, and the values that went in. */
export type PreparedSend = { ok: true; message: StoredMessage; config: QueueConfig; values: string[] } | { ok: false; result: DeliveryResult };

/**
 * The message and queue config to build the request from, when either needs a secret; undefined
 * when neither does (nearly every delivery: nothing is allocated for it). A secret that is not to be
 * had becomes the attempt's result without a request: `secret_missing` (the message goes to dead,
 * the error naming the secret) or `secret_unavailable` (sealed under a key this node lacks: retried).
 */
export function prepareSend(message: StoredMessage, queue: { tenant: string; config: QueueConfig }, vault: SecretSource | undefined): PreparedSend | undefined {
  const signing = queue.config.signingSecret === undefined ? undefined : secretReference(queue.config.signingSecret);
  const slots = hasSecretSlots(message);
  if (!slots && signing === undefined) return undefined;
  if (!vault) return refused('secret_missing', 'this node has no vault');
  let prepared: { message: StoredMessage; config: QueueConfig; values: string[] } = { message, config: queue.config, values: [] };
  if (slots) {
    const filled = fillSecrets(message, (name) => vault.reveal(message.tenant, name));
    if (!filled.ok) return refused(filled.kind === 'unavailable' ? 'secret_unavailable' : 'secret_missing', filled.message);
    prepared = { ...prepared, message: filled.message, values: filled.values };
  }
  if (signing !== undefined) {
    const secret = vault.reveal(queue.tenant, signing);
    if (!secret.ok) return refused(secret.kind === 'unavailable' ? 'secret_unavailable' : 'secret_missing', `signing: ${secret.message}`);
    try {
      parseStandardWebhookSecrets(secret.value);
    } catch {
      return refused('secret_missing', `signing: secret "${signing}" of tenant ${queue.tenant} is not a whsec_<base64> key`);
    }
    prepared = { ...prepared, config: { ...queue.config, signingSecret: secret.value } };
  }
  return { ok: true, ...prepared };
}

function refused(code: 'secret_missing' | 'secret_unavailable', message: string): PreparedSend {
  return { ok: false, result: { latencyMs: 0, error: { code, message } } };
}

/** What the target answered, with the secrets sent to it taken out of what is kept (its body's first KiB, the error). */
export function scrubResult(result: DeliveryResult, values: readonly string[]): DeliveryResult {
  if (values.length === 0) return result;
  const scrubbed: DeliveryResult = { ...result };
  if (result.body !== undefined) scrubbed.body = scrubSecrets(result.body, values);
  if (result.error) scrubbed.error = { ...result.error, message: scrubSecrets(result.error.message, values) };
  return scrubbed;
}
