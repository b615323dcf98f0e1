/** Error from the Sluice API, carrying the problem+json body. */
export class SluiceApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly problem: Record<string, unknown> | undefined,
  ) {
    super(`${status} ${code ?? ''} ${typeof problem?.detail === 'string' ? problem.detail : ''}`.trim());
    this.name = 'SluiceApiError';
  }
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:7070 */
  url: string;
  /** Admin or tenant key. */
  key?: string;
}

/**
 * A small typed client of the Sluice HTTP API, used by the CLI and by tests.
 *
 * @example
 * const sluice = new SluiceClient({ url: 'http://127.0.0.1:7070', key: process.env.SLUICE_KEY });
 * const { messages } = await sluice.pull('default', { max: 100, waitMs: 5000 });
 * await sluice.ack('default', messages.map((m) => m.receipt));
 */
export class SluiceClient {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    if (!/^https?:\/\//.test(options.url)) throw new Error(`url must start with http:// or https://, got ${options.url}`);
    this.base = options.url.replace(/\/+$/, '');
  }

  /** Any API call; throws SluiceApiError on a non-2xx answer. */
  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.options.key) headers.authorization = `Bearer ${this.options.key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) {
      const problem = parsed as Record<string, unknown> | undefined;
      throw new SluiceApiError(response.status, typeof problem?.code === 'string' ? problem.code : undefined, problem);
    }
    return parsed as T;
  }

  /** Schedule or send an outbound webhook. */
  send(message: Record<string, unknown>): Promise<{ id: string; deliverAt: string; state: string }> {
    return this.request('POST', '/v1/messages', message);
  }

  sendBatch(messages: Record<string, unknown>[]): Promise<{ messages: { id: string; deliverAt: string; state: string }[] }> {
    return this.request('POST', '/v1/messages/batch', { messages });
  }

  getMessage(id: string): Promise<Record<string, any>> {
    return this.request('GET', `/v1/messages/${encodeURIComponent(id)}`);
  }

  pull(queue: string, options: { max?: number; visibilityTimeoutMs?: number; waitMs?: number } = {}): Promise<{ messages: PulledMessage[] }> {
    return this.request('POST', `/v1/queues/${encodeURIComponent(queue)}/pull`, options);
  }

  ack(queue: string, receipts: string[]): Promise<{ acked: number; stale: string[] }> {
    return this.request('POST', `/v1/queues/${encodeURIComponent(queue)}/ack`, { receipts });
  }

  nack(queue: string, receipts: string[], delayMs = 0): Promise<{ requeued: number }> {
    return this.request('POST', `/v1/queues/${encodeURIComponent(queue)}/nack`, { receipts, delayMs });
  }

  queues(): Promise<{ queues: Record<string, any>[] }> {
    return this.request('GET', '/v1/queues');
  }

  replayDead(queue: string, ids?: string[]): Promise<{ replayed: number; ids: string[] }> {
    return this.request('POST', `/v1/queues/${encodeURIComponent(queue)}/dead/replay`, ids ? { ids } : {});
  }

  setDomainLimit(host: string, limit: { concurrency?: number; ratePerSecond?: number; burst?: number }): Promise<Record<string, unknown>> {
    return this.request('PUT', `/v1/limits/domains/${encodeURIComponent(host)}`, limit);
  }

  addSchedule(schedule: Record<string, unknown>): Promise<Record<string, any>> {
    return this.request('POST', '/v1/schedules', schedule);
  }

  /** Create a tenant API key: the key is in the answer, and only there. */
  createKey(tenant: string): Promise<{ tenant: string; id: string; prefix: string; key: string }> {
    return this.request('POST', `/v1/tenants/${encodeURIComponent(tenant)}/keys`);
  }

  /** A tenant's keys: id, prefix, createdAt, lastUsedAt (never the key). */
  listKeys(tenant: string): Promise<{ keys: { id: string; prefix: string | null; createdAt: string; lastUsedAt: string | null }[] }> {
    return this.request('GET', `/v1/tenants/${encodeURIComponent(tenant)}/keys`);
  }

  /** Revoke a tenant key at once. */
  async revokeKey(tenant: string, id: string): Promise<void> {
    await this.request('DELETE', `/v1/tenants/${encodeURIComponent(tenant)}/keys/${encodeURIComponent(id)}`);
  }

  /** Delete a queue with its messages; `force` also deletes messages not yet delivered. */
  deleteQueue(queue: string, force = false): Promise<{ name: string; deleted: boolean; messages: number }> {
    return this.request('DELETE', `/v1/queues/${encodeURIComponent(queue)}${force ? '?force=true' : ''}`);
  }

  stats(): Promise<Record<string, any>> {
    return this.request('GET', '/v1/stats');
  }
}

/** One message as pull returns it. */
export interface PulledMessage {
  id: string;
  receipt: string;
  attempt: number;
  receivedAt: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  contentType: string | null;
  body?: string;
  bodyBase64?: string;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}
