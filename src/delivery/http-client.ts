/**
 * The outbound HTTP client of push delivery: one undici Agent (a keep-alive Pool per origin) whose
 * connector runs the SSRF guard on the address it is about to connect to.
 *
 * Why the check lives in the connector and not before the request: a name checked by one DNS
 * lookup and connected by another can resolve differently the second time (DNS rebinding). Here
 * the addresses the guard sees are the very ones `net.connect` dials, and literal IPs (which never
 * reach a lookup) are checked on the same path.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.js';
import { guardedConnector, SsrfGuard, SsrfRefusedError, type AllowPrivate } from './ssrf.js';

/** One HTTP request of a delivery attempt. */
export interface DeliveryRequest {
  url: string;
  method: string;
  /** The stored request's headers; hop-by-hop ones are dropped and content-length is set from `body`. */
  headers: Record<string, string>;
  /** Sent exactly as given; no content-type is added. */
  body?: Buffer;
  /** Time to establish the connection (TCP and TLS). Default 5000. */
  connectTimeoutMs?: number;
  /** Time for the whole response, body included, counted from the start of the attempt. Default 30000. */
  responseTimeoutMs?: number;
  /** How much of the response body to keep, instead of the client's maxResponseBytes (a workflow step keeps 64 KiB). */
  maxResponseBytes?: number;
}

/** What happened: a status (any, 3xx included: redirects are not followed) or an error, never both missing. */
export interface DeliveryResult {
  status?: number;
  /** Response headers, lower-case names; repeated headers joined with ", ". */
  headers?: Record<string, string>;
  /** First maxResponseBytes of the body, as UTF-8 text (lossy ok). */
  body?: string;
  /** From the start of send() to the end of the response or the failure, by the client's clock. */
  latencyMs: number;
  error?: { code: DeliveryErrorCode; message: string };
}

/**
 * Why an attempt produced no complete response. `ssrf_refused` and `invalid_url` will never succeed on
 * retry. `secret_missing` and `secret_unavailable` come from no request at all: a secret the message
 * needs is not in the vault, or is sealed under a key this node does not hold (send-secrets.ts).
 */
export type DeliveryErrorCode = 'ssrf_refused' | 'connect_timeout' | 'timeout' | 'network' | 'invalid_url' | 'secret_missing' | 'secret_unavailable';

/** Options of {@link DeliveryClient}. */
export interface DeliveryClientOptions {
  /** `network.allowPrivate`: true, or host keys whose targets may resolve to non-public addresses. */
  allowPrivate: AllowPrivate;
  /** How much of each response body to keep. Default 1024. */
  maxResponseBytes?: number;
  /** Used for latencyMs. Default the system clock. */
  clock?: Clock;
  /** How long an idle keep-alive connection is kept (undici `keepAliveTimeout`). Default undici's 4000. */
  keepAliveTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_RESPONSE_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024;
/**
 * After the kept head of a body, up to this much more is read and thrown away so that the
 * connection can be reused; a longer body closes the connection instead, which is cheaper than
 * downloading megabytes nobody will look at.
 */
const DISCARD_LIMIT_BYTES = 64 * 1024;

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those undici must
 * compute itself. `expect` is dropped because undici refuses it.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'host',
  'content-length',
  'upgrade',
  'te',
  'trailer',
  'expect',
]);

/**
 * Sends delivery attempts. Never throws from send(): every failure is a result with an error code.
 *
 * @example
 * const client = new DeliveryClient({ allowPrivate: ['127.0.0.1:5678'] });
 * const result = await client.send({ url: 'http://127.0.0.1:5678/hook', method: 'POST', headers: {}, body });
 * if (result.error) console.log(result.error.code, result.error.message);
 * await client.close();
 */
export class DeliveryClient {
  private readonly guard: SsrfGuard;
  private readonly maxResponseBytes: number;
  private readonly clock: Clock;
  private readonly keepAliveTimeoutMs: number | undefined;
  /** One Agent per connect timeout, because undici fixes the connect timeout per connector. */
  private readonly agents = new Map<number, Agent>();
  private closed = false;

  /** @throws Error on an invalid allowPrivate key or maxResponseBytes. */
  constructor(options: DeliveryClientOptions) {
    this.guard = new SsrfGuard(options.allowPrivate);
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isInteger(this.maxResponseBytes) || this.maxResponseBytes < 0) {
      throw new Error('maxResponseBytes must be an integer of 0 or more');
    }
    this.clock = options.clock ?? systemClock;
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs;
  }

  /** Send one request and read its response; resolves with a result on every outcome. */
  async send(request: DeliveryRequest): Promise<DeliveryResult> {
    const started = this.clock.now();
    const elapsed = (): number => this.clock.now() - started;
    const target = parseTarget(request.url);
    if (typeof target === 'string') return { latencyMs: elapsed(), error: { code: 'invalid_url', message: target } };
    if (this.closed) return { latencyMs: elapsed(), error: { code: 'network', message: 'the delivery client is closed' } };
    const exchange = new Exchange(request.maxResponseBytes ?? this.maxResponseBytes, request.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS);
    try {
      this.agentFor(request.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS).dispatch(
        {
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: request.method as Dispatcher.HttpMethod,
          headers: outboundHeaders(request, target),
          body: request.body ?? null,
          // The exchange's own deadline covers the whole response; undici's idle timers must not fire first.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        exchange,
      );
    } catch (error) {
      exchange.end(error);
    }
    const outcome = await exchange.done;
    // undici hands the connection back to its pool only after the response has ended; a request
    // sent in the same turn finds it busy and opens another one (seen with back-to-back sends to
    // one sink: 2 connections instead of 1). One macrotask lets the next delivery reuse it.
    if (outcome.error === undefined) await new Promise((resolve) => setImmediate(resolve));
    const result: DeliveryResult = { ...outcome.partial, latencyMs: elapsed() };
    if (outcome.error !== undefined) result.error = describeFailure(outcome.error, exchange, request);
    return result;
  }

  /** Close every pooled connection once the requests in flight have finished. */
  async close(): Promise<void> {
    this.closed = true;
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((agent) => agent.close()));
  }

  /**
   * Abort every request in flight and close every connection now: the shutdown deadline has come.
   * The aborted sends resolve with a `network` error.
   */
  async destroy(): Promise<void> {
    this.closed = true;
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((agent) => agent.destroy(new Error('sluice is stopping'))));
  }

  private agentFor(connectTimeoutMs: number): Agent {
    let agent = this.agents.get(connectTimeoutMs);
    if (agent === undefined) {
      agent = new Agent({
        connect: guardedConnector(this.guard, connectTimeoutMs),
        ...(this.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: this.keepAliveTimeoutMs }),
      });
      this.agents.set(connectTimeoutMs, agent);
    }
    return agent;
  }
}

/**
 * One request and its response, as an undici dispatch handler: keeps the status, the headers and the
 * first `maxBytes` of the body, reads up to DISCARD_LIMIT_BYTES more so the connection can be reused,
 * and closes the connection on a longer body. A timer covers the whole exchange (connect, headers,
 * body) and aborts it when it fires. No stream, no AbortSignal: this is the hot path of push delivery.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly done: Promise<{ partial: Omit<DeliveryResult, 'latencyMs'>; error?: unknown }>;
  expired = false;
  private readonly partial: Omit<DeliveryResult, 'latencyMs'> = {};
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private discarded = 0;
  private settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private readonly timer: NodeJS.Timeout;
  private settle!: (outcome: { partial: Omit<DeliveryResult, 'latencyMs'>; error?: unknown }) => void;

  constructor(
    private readonly maxBytes: number,
    readonly timeoutMs: number,
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.timer = setTimeout(() => this.expire(), timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('the exchange is over'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.partial.status = statusCode;
    this.partial.headers = flattenHeaders(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    const room = this.maxBytes - this.kept;
    if (room > 0) {
      const head = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(head);
      this.kept += head.length;
      this.discarded += chunk.length - head.length;
    } else {
      this.discarded += chunk.length;
    }
    if (this.discarded > DISCARD_LIMIT_BYTES) {
      // Not worth downloading: answer with what we have and close this connection.
      this.end();
      controller.abort(new Error('response body too long to drain'));
    }
  }

  onResponseEnd(): void {
    this.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.end(error);
  }

  /** The exchange is over, with an error or not; what was learnt before an error (the status, say) is kept. */
  end(error?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.settle(error === undefined ? { partial: this.withBody() } : { partial: this.withBody(), error });
  }

  private expire(): void {
    if (this.settled) return;
    this.expired = true;
    const error = new Error(`no complete response within ${this.timeoutMs} ms`);
    this.end(error);
    this.controller?.abort(error);
  }

  private withBody(): Omit<DeliveryResult, 'latencyMs'> {
    if (this.partial.status !== undefined) {
      this.partial.body = (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString('utf8');
    }
    return this.partial;
  }
}

/**
 * Make the first real deliveries as fast as the rest: undici compiles its HTTP parser (WebAssembly)
 * and loads its client code on the first request, and the whole delivery path runs unoptimised for
 * a while. Measured on the scheduling benchmark: the first 100 ms of a run went out up to 120–220 ms
 * late (the cold sends were slow, so more piled up behind them); after 320 sends at start through a
 * client of the same kind to a throwaway server on 127.0.0.1, ~20 ms. Costs ~100 ms at start.
 * Failures are ignored: it only saves time.
 */
const WARM_UP_ROUNDS = 40;

export async function warmUpHttpClient(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const client = new DeliveryClient({ allowPrivate: true });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const request = { url: `http://127.0.0.1:${port}/`, method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };
    for (let round = 0; round < WARM_UP_ROUNDS; round += 1) await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => client.send(request)));
  } catch {
    // nothing to do: the first deliveries just pay the cost themselves
  } finally {
    await client.close().catch(() => {});
    server.close();
  }
}

/** The URL to deliver to, or the reason it cannot be one. */
function parseTarget(url: string): URL | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `not a valid URL: ${JSON.stringify(url)}`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `only http and https targets can be delivered to, not ${parsed.protocol}`;
  }
  return parsed;
}

/**
 * The stored headers minus hop-by-hop ones (including any the stored `connection` header named),
 * with content-length from the body and URL credentials as Basic auth when no authorization is set.
 */
function outboundHeaders(request: DeliveryRequest, target: URL): Record<string, string> {
  const named = connectionTokens(request.headers);
  // No prototype: `constructor`, `toString` or `__proto__` are headers here, not Object's members.
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(request.headers)) {
    const key = name.toLowerCase();
    if (HOP_BY_HOP.has(key) || key.startsWith('proxy-') || named.has(key)) continue;
    const before = headers[key];
    headers[key] = before === undefined ? value : `${before}, ${value}`;
  }
  if (request.body !== undefined) headers['content-length'] = String(request.body.length);
  const basic = basicAuthOf(target);
  if (basic !== undefined && headers.authorization === undefined) headers.authorization = basic;
  return headers;
}

/** Header names listed in a `Connection` header are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(headers: Record<string, string>): Set<string> {
  const tokens = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const token of value.split(',')) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

/** `https://user:pass@host/` → `Basic dXNlcjpwYXNz`, as curl does; undefined without credentials. */
function basicAuthOf(target: URL): string | undefined {
  if (target.username === '' && target.password === '') return undefined;
  const credentials = `${safeDecode(target.username)}:${safeDecode(target.password)}`;
  return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** Turn whatever undici, net or the guard threw into a result error. */
function describeFailure(error: unknown, exchange: Exchange, request: DeliveryRequest): NonNullable<DeliveryResult['error']> {
  const refused = findCause(error, (cause): cause is SsrfRefusedError => cause instanceof SsrfRefusedError);
  if (refused) return { code: 'ssrf_refused', message: refused.message };
  if (exchange.expired) return { code: 'timeout', message: `no complete response within ${exchange.timeoutMs} ms` };
  const code = errorCode(error);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    const limit = request.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return { code: 'connect_timeout', message: `could not connect within ${limit} ms` };
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return { code: 'timeout', message: errorMessage(error) };
  }
  return { code: 'network', message: errorMessage(error) };
}

function findCause<T>(error: unknown, test: (value: unknown) => value is T): T | undefined {
  for (let current = error, depth = 0; current !== undefined && depth < 8; depth++) {
    if (test(current)) return current;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A readable message; net's AggregateError (every address of a name failed) has an empty one. */
function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') {
    const inner = error.errors.map(errorMessage);
    return inner.length > 0 ? inner.join('; ') : (errorCode(error) ?? 'connection failed');
  }
  if (error instanceof Error) {
    const code = errorCode(error);
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
