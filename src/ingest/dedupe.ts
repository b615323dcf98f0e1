import { createHash } from 'node:crypto';
import { z } from 'zod';
import { singleHeader, type VerifyInput } from './verify/common.js';
import { standardWebhookHeaderPrefix } from './verify/standard-webhooks.js';

/**
 * Delivery ids for ingest dedupe. Providers retry, and some deliver the same event twice even
 * without a failure; the id they attach to a delivery lets Sluice answer a repeat with the first
 * message's id instead of storing it again.
 */

/** How long a delivery id is remembered when the config does not say: 24 hours. */
export const DEFAULT_DEDUPE_WINDOW_SEC = 86_400;

/** The providers whose delivery id Sluice knows where to find. */
export const DEDUPE_KINDS = ['github', 'stripe', 'shopify', 'standard-webhooks'] as const;
export type DedupeKind = (typeof DEDUPE_KINDS)[number];

/** Stripe ids are read from the JSON body; larger bodies are not parsed (the key is then absent). */
export const STRIPE_DEDUPE_MAX_BODY_BYTES = 1024 * 1024;

/** Keys longer than this are stored as their SHA-256, so a huge header cannot bloat the dedupe table. */
const MAX_KEY_CHARS = 256;

/** Remembered for 1 s to 30 days; longer windows would keep the dedupe table growing for little use. */
const windowSecSchema = z.number().int().positive().max(30 * 86_400);

/**
 * A source's `dedupe` setting, in one of three forms:
 * - a provider name: `github` (`x-github-delivery`), `stripe` (the event `id` in the JSON body),
 *   `shopify` (`x-shopify-webhook-id`), `standard-webhooks` (`webhook-id`, or `svix-id`);
 * - `{ kind: <provider name>, windowSec }` — the same, with its own window;
 * - `{ header: <name>, windowSec }` — any header carrying a delivery id.
 * `windowSec` defaults to {@link DEFAULT_DEDUPE_WINDOW_SEC}; use {@link dedupeWindowSec} to read it.
 *
 * @example
 * dedupe: stripe
 * dedupe: { kind: github, windowSec: 3600 }
 * dedupe: { header: x-request-id }
 */
export const dedupeConfigSchema = z.union([
  z.enum(DEDUPE_KINDS),
  z.object({ kind: z.enum(DEDUPE_KINDS), windowSec: windowSecSchema.optional() }).strict(),
  z
    .object({
      header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'),
      windowSec: windowSecSchema.optional(),
    })
    .strict(),
]);
export type DedupeConfig = z.output<typeof dedupeConfigSchema>;

/** How long, in seconds, a delivery id stays remembered under `config`. */
export function dedupeWindowSec(config: DedupeConfig): number {
  return typeof config === 'object' && config.windowSec !== undefined ? config.windowSec : DEFAULT_DEDUPE_WINDOW_SEC;
}

/**
 * The delivery id of a request under `config`, or undefined when the request carries none (it is
 * then stored without dedupe). Only the `stripe` kind parses the body, and only as JSON.
 */
export function dedupeKey(config: DedupeConfig, input: VerifyInput): string | undefined {
  const raw = typeof config === 'string' ? keyOfKind(config, input) : 'kind' in config ? keyOfKind(config.kind, input) : singleHeader(input, config.header);
  return raw === undefined ? undefined : boundedKey(raw);
}

function keyOfKind(kind: DedupeKind, input: VerifyInput): string | undefined {
  switch (kind) {
    case 'github':
      return singleHeader(input, 'x-github-delivery');
    case 'shopify':
      return singleHeader(input, 'x-shopify-webhook-id');
    case 'standard-webhooks':
      return singleHeader(input, `${standardWebhookHeaderPrefix(input)}id`);
    case 'stripe':
      return stripeEventId(input.rawBody);
  }
}

/** The top-level `id` of a Stripe event (`evt_...`), or undefined for anything else. */
function stripeEventId(body: Buffer): string | undefined {
  if (body.length === 0 || body.length > STRIPE_DEDUPE_MAX_BODY_BYTES) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return undefined;
  const id = (event as { id?: unknown }).id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function boundedKey(key: string): string {
  if (key.length <= MAX_KEY_CHARS) return key;
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}
