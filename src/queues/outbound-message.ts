import { z } from 'zod';
import type { Clock } from '../clock.js';
import { headerMapSchema, nameSchema, prioritySchema } from '../config/schema.js';
import { retryPolicySchema } from '../delivery/retry-policy.js';
import type { TargetCheck } from '../delivery/targets.js';
import type { Principal } from '../http/auth.js';
import { SluiceError } from '../http/errors.js';
import type { NewMessage } from '../store/types.js';
import type { QueueRegistry } from './registry.js';
import { defaultQueueName, tenantOf } from './tenant-queues.js';

/**
 * One outbound webhook as the API, the batch route and schedules take it, and how it becomes what
 * the store keeps.
 */

const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;
const MAX_DELAY_MS = 366 * 24 * 3_600_000;

/** One outbound webhook as the API takes it. */
export const outboundMessageSchema = z
  .object({
    url: z.string().min(1).max(8_192).optional().meta({ description: "The target; absent: the queue's url (a 400 naming url when the queue has none)" }),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: headerMapSchema,
    body: z.unknown().optional().meta({ description: 'A string is sent as is; any other JSON value is sent as JSON' }),
    bodyBase64: z.base64().optional().meta({ description: 'Raw bytes to send, instead of body' }),
    deliverAt: z.union([z.string().max(64), z.number()]).optional().meta({ description: 'RFC 3339 time with a zone, or epoch milliseconds; within a year' }),
    delayMs: z.number().int().min(0).max(MAX_DELAY_MS).optional().meta({ description: 'Deliver this long from now, instead of deliverAt' }),
    // Absent: see defaultQueueName in queues/tenant-queues.ts.
    queue: nameSchema.optional().meta({ description: "A push queue of the caller's; absent: the tenant's default outbound queue" }),
    idempotencyKey: z.string().min(1).max(256).optional().meta({ description: 'The same key within 24 h answers the first message, 200' }),
    retry: retryPolicySchema.optional().meta({ description: "Replaces the queue's retry policy for this message" }),
    priority: prioritySchema.optional().meta({ description: "0 (least urgent) to 9 (most urgent); absent: the queue's priority (5 unless set)" }),
  })
  .strict()
  .refine((m) => m.body === undefined || m.bodyBase64 === undefined, { message: 'give body or bodyBase64, not both', path: ['bodyBase64'] })
  .refine((m) => m.deliverAt === undefined || m.delayMs === undefined, { message: 'give deliverAt or delayMs, not both', path: ['delayMs'] })
  // The two checks above in JSON Schema, for the OpenAPI document (zod cannot convert a refine).
  .meta({ allOf: [{ not: { required: ['body', 'bodyBase64'] } }, { not: { required: ['deliverAt', 'delayMs'] } }] });
export type OutboundMessage = z.infer<typeof outboundMessageSchema>;

/** What turning a message into a stored one reads: the queues, the time, and the target checks. */
export interface OutboundDeps extends TargetCheck {
  readonly queues: QueueRegistry;
  readonly clock: Clock;
}

/**
 * Turn one validated API message into what the store keeps. `at` prefixes field names in errors
 * (`messages.3.url`) so a bad item in a batch is named exactly.
 */
export function toNewMessage(app: OutboundDeps, principal: Principal, input: OutboundMessage, at: string): NewMessage {
  const queue = app.queues.require(input.queue ?? defaultQueueName(tenantOf(principal)), principal);
  if (queue.config.mode !== 'push') throw new SluiceError('SLUICE_ERR_WRONG_QUEUE_MODE', `${at}queue: ${queue.name} is a pull queue`);
  const target = input.url ?? queue.config.url;
  if (target === undefined) {
    throw new SluiceError('SLUICE_ERR_VALIDATION', `${at}url: required (queue ${queue.name} has no url)`, {
      extra: { errors: [{ field: `${at}url`, message: 'required: the queue has no url' }] },
    });
  }
  const domain = fieldError(at, () => app.domainOf(target));
  app.refuseForbiddenTarget(target, domain, `${at}url`);
  const now = app.clock.now();
  const deliverAt = resolveDeliverAt(input, now, at);
  const { body, contentType } = encodeBody(input);
  const headers = Object.entries(input.headers);
  if (contentType && !headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['content-type', contentType]);
  const url = new URL(target);
  const message: NewMessage = {
    queue: queue.name,
    tenant: queue.tenant,
    method: input.method,
    path: url.pathname,
    query: url.search.slice(1),
    headers,
    body,
    url: url.toString(),
    domain,
    receivedAt: now,
    deliverAt,
    origin: 'api',
    priority: input.priority ?? queue.config.priority,
  };
  if (input.retry) message.retry = JSON.stringify(input.retry);
  if (input.idempotencyKey) message.dedupe = { scope: `idempotency:${queue.tenant}`, key: input.idempotencyKey, expiresAt: now + IDEMPOTENCY_WINDOW_MS };
  return message;
}

function fieldError<T>(at: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof SluiceError && at) throw new SluiceError(error.code, `${at}${error.message}`);
    throw error;
  }
}

/** deliverAt as RFC 3339 (with a zone) or epoch ms; or delayMs from now; or now. */
export function resolveDeliverAt(input: { deliverAt?: string | number | undefined; delayMs?: number | undefined }, now: number, at = ''): number {
  if (input.delayMs !== undefined) return now + input.delayMs;
  if (input.deliverAt === undefined) return now;
  const value = input.deliverAt;
  const ms = typeof value === 'number' ? value : parseRfc3339(value);
  if (ms === undefined || !Number.isFinite(ms) || !Number.isInteger(ms) || ms < 0 || ms > now + MAX_DELAY_MS) {
    throw new SluiceError('SLUICE_ERR_VALIDATION', `${at}deliverAt: must be an RFC 3339 time with a zone or epoch milliseconds, within a year`, {
      extra: { errors: [{ field: `${at}deliverAt`, message: 'unparseable or out of range' }] },
    });
  }
  return ms;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time with a zone, or undefined. Date.parse alone rolls impossible dates over
 * (`2026-02-30` becomes 2 March), so the calendar fields must also read back unchanged.
 */
function parseRfc3339(value: string): number | undefined {
  const fields = RFC3339.exec(value);
  if (!fields) return undefined;
  const [year, month, day, hour, minute, second] = fields.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const calendar = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const exists =
    calendar.getUTCFullYear() === year &&
    calendar.getUTCMonth() === month - 1 &&
    calendar.getUTCDate() === day &&
    calendar.getUTCHours() === hour &&
    calendar.getUTCMinutes() === minute &&
    calendar.getUTCSeconds() === second;
  const ms = exists ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** A string body is sent as is (set its content-type in headers); any other JSON value is serialised and marked application/json. */
function encodeBody(input: OutboundMessage): { body: Buffer; contentType?: string } {
  if (input.bodyBase64 !== undefined) return { body: Buffer.from(input.bodyBase64, 'base64') };
  if (input.body === undefined) return { body: Buffer.alloc(0) };
  if (typeof input.body === 'string') return { body: Buffer.from(input.body, 'utf8') };
  return { body: Buffer.from(JSON.stringify(input.body), 'utf8'), contentType: 'application/json' };
}
