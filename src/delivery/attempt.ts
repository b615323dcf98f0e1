import type { QueueConfig } from '../config/schema.js';
import { signStandardWebhook } from '../ingest/verify/index.js';
import { stepOf, type StoredMessage } from '../store/types.js';
import type { DeliveryRequest, DeliveryResult } from './http-client.js';
import { STEP_RESPONSE_BYTES } from './response-size.js';
import { backoffDelay, classifyOutcome, parseRetryAfter, type RetryPolicy } from './retry-policy.js';

/** What one finished attempt means for the message and for its domain. */
export type Verdict =
  | { kind: 'delivered'; circuitFailure: false }
  | {
      kind: 'retry';
      /** When to try again. */
      at: number;
      /** Counts toward maxAttempts (a Retry-After wait does not). */
      counts: boolean;
      /** 429/503/timeout: the domain should slow down (AIMD). */
      throttle: boolean;
      /** Retry-After: the whole domain waits until then. */
      pauseUntil?: number;
      /** Connection failure or 5xx: counts toward opening the circuit. */
      circuitFailure: boolean;
      reason: string;
    }
  | { kind: 'dead'; reason: string; circuitFailure: boolean };

/** The HTTP request for one attempt: the stored request, our tracing headers, and the signature if the queue signs. */
export function buildRequest(message: StoredMessage, config: QueueConfig, attempt: number, now: number): DeliveryRequest {
  // No prototype: a stored header named `constructor` or `__proto__` must stay a header.
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, value] of message.headers) {
    const key = name.toLowerCase();
    const before = headers[key];
    headers[key] = before === undefined ? value : `${before}, ${value}`;
  }
  headers['sluice-message-id'] = message.id;
  headers['sluice-attempt'] = String(attempt);
  if (config.signingSecret) {
    const timestamp = Math.floor(now / 1000);
    headers['webhook-id'] = `msg_${message.id}`;
    headers['webhook-timestamp'] = String(timestamp);
    headers['webhook-signature'] = signStandardWebhook(config.signingSecret, `msg_${message.id}`, timestamp, message.body);
  }
  const request: DeliveryRequest = {
    url: message.url ?? config.url ?? '',
    method: message.method,
    headers,
    connectTimeoutMs: config.timeouts.connectMs,
    responseTimeoutMs: config.timeouts.responseMs,
  };
  if (message.method !== 'GET' && message.method !== 'HEAD') request.body = message.body;
  // A workflow step's response feeds the steps after it: more of it is kept (attempt records keep their first KiB).
  if (stepOf(message.origin)) request.maxResponseBytes = STEP_RESPONSE_BYTES;
  return request;
}

/** The retry policy of a message: its own override, else its queue's. */
export function policyOf(message: StoredMessage, config: QueueConfig): RetryPolicy {
  if (!message.retry) return config.retry;
  return { ...config.retry, ...(JSON.parse(message.retry) as Partial<RetryPolicy>) };
}

/**
 * Judge one attempt. 2xx delivered. Refused by the SSRF guard, a bad URL or a secret gone from the vault: dead at once. Network
 * errors, timeouts, 408/425/429/5xx: retry with full-jitter backoff until maxAttempts. A 429/503
 * with Retry-After pauses the domain until then and does not use up an attempt.
 */
export function judge(
  result: DeliveryResult,
  policy: RetryPolicy,
  attempt: number,
  now: number,
  random: () => number = Math.random,
): Verdict {
  if (result.error && (result.error.code === 'ssrf_refused' || result.error.code === 'invalid_url' || result.error.code === 'secret_missing')) {
    return { kind: 'dead', reason: result.error.message, circuitFailure: false };
  }
  const status = result.status;
  const outcome = result.error ? 'retry' : classifyOutcome(status, policy);
  if (outcome === 'success') return { kind: 'delivered', circuitFailure: false };
  const reason = result.error ? `${result.error.code}: ${result.error.message}` : `HTTP ${status}`;
  // A secret this node cannot open is no fault of the domain: no request was made.
  const circuitFailure = (result.error !== undefined && result.error.code !== 'secret_unavailable') || (status !== undefined && status >= 500);
  if (outcome === 'dead') return { kind: 'dead', reason, circuitFailure };
  const throttle = status === 429 || status === 503 || result.error?.code === 'timeout';
  const retryAfter = status === 429 || status === 503 ? parseRetryAfter(result.headers?.['retry-after'], now) : undefined;
  // Only a wait that lies ahead spares the attempt: "Retry-After: 0" answered forever must not retry forever.
  if (retryAfter !== undefined && retryAfter > now) {
    return { kind: 'retry', at: retryAfter, counts: false, throttle, pauseUntil: retryAfter, circuitFailure, reason };
  }
  if (attempt >= policy.maxAttempts) return { kind: 'dead', reason: `${reason} (after ${attempt} attempts)`, circuitFailure };
  return { kind: 'retry', at: now + backoffDelay(policy, attempt, random), counts: true, throttle, circuitFailure, reason };
}
