import type { Store } from '../store.js';

/**
 * What the event loop and the store thread say to each other (store-thread.ts, store-worker.ts).
 *
 * Message bodies cross the thread boundary packed: posting a Buffer copies its whole backing
 * ArrayBuffer, and a small Buffer is a slice of Node's shared 8 KiB pool, so a 1 KiB body would
 * cost 8 KiB of copying. `packBodies` copies every body of a value into one fresh buffer that is
 * then moved, not copied, to the other side.
 */

/** Every Store method, forwarded as it is. */
export const STORE_METHODS = [
  'appendMessages',
  'leaseBatch',
  'ack',
  'nack',
  'extend',
  'returnUnsent',
  'wake',
  'nextWakeAt',
  'readyLanes',
  'claimLanes',
  'completeDeliveries',
  'releaseClaims',
  'getMessage',
  'getAttempts',
  'listMessages',
  'cancel',
  'replayDead',
  'purge',
  'queueCounts',
  'domainBacklog',
  'upsertQueue',
  'listQueues',
  'deleteQueue',
  'upsertTenant',
  'listTenants',
  'addApiKey',
  'listApiKeys',
  'revokeApiKey',
  'touchApiKeys',
  'upsertDomainLimit',
  'deleteDomainLimit',
  'listDomainLimits',
  'upsertSchedule',
  'listSchedules',
  'deleteSchedule',
  'fireSchedule',
  'upsertSource',
  'listSources',
  'deleteSource',
  'upsertSecret',
  'listSecrets',
  'deleteSecret',
  'resealSecrets',
  'upsertTemplate',
  'listTemplates',
  'deleteTemplate',
  'upsertWorkflow',
  'listWorkflows',
  'deleteWorkflow',
  'appendWithRuns',
  'getRun',
  'listRuns',
  'changeRun',
  'listFileSettings',
  'replaceFileSettings',
  'ping',
  'close',
] as const satisfies readonly (keyof Store)[];

export type StoreMethod = (typeof STORE_METHODS)[number];

// A Store method missing from the list above fails the build here.
type Unforwarded = Exclude<keyof Store, StoreMethod>;
export const EVERY_METHOD_FORWARDED: [Unforwarded] extends [never] ? true : Unforwarded = true;

export interface StoreRequest {
  id: number;
  method: StoreMethod;
  args: unknown[];
}

/** id 0 answers no request: the store could not be opened. */
export type StoreResponse = { id: number; value: unknown } | { id: number; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, stack: error.stack, ...(typeof code === 'string' ? { code } : {}) };
}

export function deserializeError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.code !== undefined) (error as Error & { code: string }).code = serialized.code;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  return error;
}

type WithBody = { body: Uint8Array; payload?: unknown };
type Page = { messages: unknown[] };

const hasBody = (value: unknown): value is WithBody =>
  typeof value === 'object' && value !== null && (value as Partial<WithBody>).body instanceof Uint8Array;
const isPage = (value: unknown): value is Page => typeof value === 'object' && value !== null && Array.isArray((value as Partial<Page>).messages);

/** Visit every message (an object with a byte body) in a value, its arrays, nested arrays and pages. */
function eachMessage(value: unknown, visit: (message: WithBody) => void): void {
  if (Array.isArray(value)) for (const item of value) eachMessage(item, visit);
  else if (hasBody(value)) visit(value);
  else if (isPage(value)) eachMessage(value.messages, visit);
  else for (const key of carriedKeys(value)) eachMessage((value as Record<string, unknown>)[key], visit);
}

/**
 * A workflow run's next message rides inside other values: a NewRun or RunChange (`message`), a
 * delivery outcome (`run.message`). Their bodies cross packed like any other.
 */
function carriedKeys(value: unknown): ('message' | 'run')[] {
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const keys: ('message' | 'run')[] = [];
  if (hasBody(record.message)) keys.push('message');
  if (typeof record.run === 'object' && record.run !== null && hasBody((record.run as Record<string, unknown>).message)) keys.push('run');
  return keys;
}

/**
 * The same value with every message shallow-copied and its body replaced by `replace(message)`. A
 * routed request's follower crosses as the few fields it has of its own (the store takes the rest
 * from its lead, NewMessage.payload): cloning each follower whole measured as much as a tenth of the
 * event loop's time in a fan-out to three queues.
 */
function mapBodies(value: unknown, replace: (message: WithBody) => Uint8Array): unknown {
  if (Array.isArray(value)) return value.map((item) => mapBodies(item, replace));
  if (hasBody(value)) {
    if (!follows(value)) return { ...value, body: replace(value) };
    const { queue, tenant, url, domain, priority, payload } = value as WithBody & Record<string, unknown>;
    return { queue, tenant, url, domain, priority, payload, body: NOTHING };
  }
  if (isPage(value)) return { ...value, messages: mapBodies(value.messages, replace) };
  const keys = carriedKeys(value);
  if (keys.length === 0) return value;
  const copy = { ...(value as Record<string, unknown>) };
  for (const key of keys) copy[key] = mapBodies(copy[key], replace);
  return copy;
}

/**
 * A routed message that follows a lead (NewMessage.payload): the store keeps the lead's body for it,
 * so its own copy of that body does not cross to the thread.
 */
const follows = (message: WithBody): boolean => typeof message.payload === 'object' && message.payload !== null;
const NOTHING = new Uint8Array(0);

/**
 * Copies of `values` whose bodies all point into one fresh buffer, and that buffer's ArrayBuffer to
 * pass as the transfer list (none when there were no bodies). The caller's objects are not touched.
 */
export function packBodies(values: unknown[]): { values: unknown[]; transfer: ArrayBuffer[] } {
  let total = 0;
  for (const value of values) eachMessage(value, (message) => (total += follows(message) ? 0 : message.body.byteLength));
  if (total === 0) return { values, transfer: [] };
  const packed = new Uint8Array(total);
  let offset = 0;
  const copy = (message: WithBody): Uint8Array => {
    if (follows(message)) return NOTHING;
    const body = message.body;
    packed.set(body, offset);
    offset += body.byteLength;
    return packed.subarray(offset - body.byteLength, offset);
  };
  return { values: values.map((value) => mapBodies(value, copy)), transfer: [packed.buffer] };
}

/** After posting, bodies arrive as plain Uint8Array views: make them Buffers again, without copying. */
export function reviveBodies(values: unknown[]): void {
  for (const value of values) {
    eachMessage(value, (message) => {
      const body = message.body;
      if (!Buffer.isBuffer(body)) message.body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    });
  }
}
