import { createClient } from 'redis';
import { RedisLimitKeys } from './redis-keys.js';
import { ScriptRunner } from './redis-script-runner.js';

/** Options of {@link RedisLimits.open}. */
export interface RedisLimitsOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /** Names this cluster's keys: `sluice:{<prefix>}:v1:…`. 1-64 of A-Z a-z 0-9 _ . - */
  prefix: string;
  /** AIMD window: +1 per window of successes, at most one halving per window. Default 1000 ms. */
  aimdWindowMs?: number;
  circuit?: {
    /** Consecutive failures that open a circuit. Default 20. */
    failureThreshold?: number;
    /** How long an open circuit refuses everything. Default 30 000 ms. */
    coolDownMs?: number;
    /**
     * How long the one half-open probe holds the way before another may go, in case its node died
     * before reporting. Longer than a delivery's whole timeout. Default 60 000 ms.
     */
    probeLeaseMs?: number;
  };
  /** AIMD and circuit state untouched this long is forgotten (the domain starts fresh). Default 1 day. */
  stateTtlMs?: number;
  /** Connection timeout of the client. Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** Errors of the connection after it opened (it reconnects by itself meanwhile). */
  onConnectionError?: (error: Error) => void;
}

/** Slots granted by {@link RedisLimits.takeSlots}: `slotIds.length` of the `n` asked. */
export interface SlotGrant {
  slotIds: string[];
  /** Slots held in this scope after the take, by every node. */
  held: number;
  /** Redis time of the decision, ms. */
  now: number;
}

/** One ask of {@link RedisLimits.takeSlotsMany}. */
export interface SlotAsk {
  scope: string;
  n: number;
  limit: number;
}

/** Rate cells granted by {@link RedisLimits.rateTake}. */
export interface RateGrant {
  granted: number;
  /** Redis time of the decision, ms (microsecond precision). */
  now: number;
  /** When one more cell is allowed, ms (microsecond precision); equal to `now` when at once. */
  nextAt: number;
}

export type CircuitStateName = 'closed' | 'open' | 'half-open';

/** What {@link RedisLimits.acquire} asks for: up to `n` permits to send to `domain` for `tenant`. */
export interface PermitAsk {
  domain: string;
  tenant: string;
  n: number;
  /** The domain's configured concurrency (AIMD may hold it lower). */
  concurrency: number;
  /** The domain's rate; none: no rate limit. */
  rate?: { perSecond: number; burst: number };
  /** The tenant's concurrency; none: no tenant limit (its scope is not touched). */
  tenantConcurrency?: number;
  /** The cluster's concurrency; none: no global limit. */
  globalConcurrency?: number;
}

/** Why {@link RedisLimits.acquire} granted nothing. */
export type PermitHold = 'retry-after' | 'circuit' | 'concurrency' | 'tenant' | 'global' | 'rate';
const HOLDS: readonly (PermitHold | undefined)[] = [undefined, 'retry-after', 'circuit', 'concurrency', 'tenant', 'global', 'rate'];

/** The answer of {@link RedisLimits.acquire}. */
export interface PermitGrant {
  /** One id per permit; each holds a slot in every scope of the ask until released or expired. */
  ids: string[];
  /** What held the grant back, when nothing was granted. */
  hold?: PermitHold;
  /**
   * Refused for 'retry-after', 'circuit' or 'rate': when to ask again, ms. Granted under a rate:
   * when its next cell conforms (asking earlier gets nothing).
   */
  retryAt?: number;
  /** The domain's effective concurrency (AIMD) at the decision. */
  effective: number;
  /** Consecutive failures counted by the domain's circuit. */
  failures: number;
  /** The one half-open probe of the cluster: its outcome decides the circuit. */
  probe: boolean;
  now: number;
}

/** What the cluster's limits say of a domain now ({@link RedisLimits.view}). */
export interface DomainView {
  /** Permits held by every node: deliveries in flight in the cluster. */
  inFlight: number;
  /** 0 when not paused. */
  pausedUntil: number;
  circuit: CircuitStateName;
  /** The end of an open circuit's cool-down; 0 otherwise. */
  openUntil: number;
  effective: number;
  now: number;
}

/** The scopes a permit lives in, to release or renew it. */
export interface PermitScopes {
  domain: string;
  tenant?: string | undefined;
  global: boolean;
}

/** The answer of {@link RedisLimits.circuitPass}. */
export interface CircuitPass {
  allowed: boolean;
  /** True for the one caller that got the half-open probe: its outcome decides. */
  probe: boolean;
  state: CircuitStateName;
  /** Refused: when to ask again (end of the cool-down, or of the probe's lease), ms. */
  retryAt?: number;
  now: number;
}

/** The answer of {@link RedisLimits.circuitFailure}. */
export interface CircuitFailure {
  state: CircuitStateName;
  /** Open: the end of the cool-down, ms. */
  openUntil?: number;
  /** True for the one call that opened the circuit: the node that should emit `circuit-open`. */
  opened: boolean;
  failures: number;
  now: number;
}

const STATES: readonly CircuitStateName[] = ['closed', 'open', 'half-open'];
const MAX_SLOTS_PER_CALL = 1_000;

/**
 * Domain, tenant and global limits shared by every node through Redis: concurrency as leased slots,
 * GCRA rate, Retry-After pauses, AIMD effective concurrency and circuit state. Each method is one
 * atomic script (see redis-scripts.ts) timed by Redis `TIME`; the `*Many` methods send their calls
 * in one pipeline. A call rejects when Redis cannot be reached (commands are not queued while the
 * connection is down): the caller must then treat the answer as "no grant".
 *
 * Scopes of slots and rates are names chosen by the caller: `domain:<key>`, `tenant:<name>`,
 * `global`. Pauses, AIMD and circuits belong to a domain key.
 *
 * @example
 * const limits = await RedisLimits.open({ url: 'redis://127.0.0.1:6379', prefix: 'prod' });
 * const { slotIds } = await limits.takeSlots('domain:api.example.com', node, 4, 10, 10_000);
 * const { granted } = await limits.rateTake('domain:api.example.com', 50, 5, slotIds.length);
 * await limits.releaseSlots('domain:api.example.com', slotIds.slice(granted)); // keep what may go
 */
export class RedisLimits {
  private readonly scripts: ScriptRunner;
  private readonly aimdWindowMs: number;
  private readonly failureThreshold: number;
  private readonly coolDownMs: number;
  private readonly probeLeaseMs: number;
  private readonly stateTtlMs: number;
  /** The second connection, for pub/sub (a subscribed connection runs no other command). */
  private subscriber: RedisClient | undefined;
  private readonly freedListeners: ((domain: string) => void)[] = [];

  private constructor(
    private readonly client: RedisClient,
    readonly keys: RedisLimitKeys,
    options: RedisLimitsOptions,
  ) {
    this.scripts = new ScriptRunner(client);
    this.aimdWindowMs = positive('aimdWindowMs', options.aimdWindowMs ?? 1_000);
    this.failureThreshold = positiveInteger('circuit.failureThreshold', options.circuit?.failureThreshold ?? 20);
    this.coolDownMs = nonNegative('circuit.coolDownMs', options.circuit?.coolDownMs ?? 30_000);
    this.probeLeaseMs = positive('circuit.probeLeaseMs', options.circuit?.probeLeaseMs ?? 60_000);
    this.stateTtlMs = positive('stateTtlMs', options.stateTtlMs ?? 86_400_000);
  }

  /** Connect and load the scripts. @throws Error when Redis cannot be reached, with the cause. */
  static async open(options: RedisLimitsOptions): Promise<RedisLimits> {
    const keys = new RedisLimitKeys(options.prefix);
    const connection = { opened: false };
    const client = newClient(options, connection);
    client.on('error', (error: unknown) => {
      if (connection.opened) options.onConnectionError?.(error instanceof Error ? error : new Error(String(error)));
    });
    const limits = new RedisLimits(client, keys, options);
    try {
      await client.connect();
      connection.opened = true;
      await limits.scripts.loadAll();
      return limits;
    } catch (error) {
      client.destroy();
      throw new Error(`Redis at ${redactUrl(options.url)} is unreachable: ${messageOf(error)}`, { cause: error });
    }
  }

  /**
   * Take up to `n` slots of `scope` as leases of `leaseMs` (expired leases of any node are freed
   * first), keeping the scope at most `limit` slots held.
   */
  async takeSlots(scope: string, node: string, n: number, limit: number, leaseMs: number): Promise<SlotGrant> {
    checkNode(node);
    checkCount('n', n, 1, MAX_SLOTS_PER_CALL);
    checkCount('limit', limit, 0, Number.MAX_SAFE_INTEGER);
    positiveInteger('leaseMs', leaseMs);
    const keys = [this.keys.key('slots', scope), this.keys.slotSequence()];
    const reply = list(await this.scripts.run('takeSlots', keys, [node, String(n), String(limit), String(leaseMs)]));
    return { now: int(reply[0]), held: int(reply[1]), slotIds: reply.slice(2).map(str) };
  }

  /** Several takes in one pipeline (each atomic on its own); answers in the order of `asks`. */
  takeSlotsMany(node: string, asks: readonly SlotAsk[], leaseMs: number): Promise<SlotGrant[]> {
    return Promise.all(asks.map((ask) => this.takeSlots(ask.scope, node, ask.n, ask.limit, leaseMs)));
  }

  /**
   * Extend this node's slots to `leaseMs` from now. `lost` are those that had already expired (or
   * are not this node's): their places may be taken, so start nothing more on them.
   */
  async renewSlots(scope: string, node: string, slotIds: readonly string[], leaseMs: number): Promise<{ lost: string[]; now: number }> {
    checkNode(node);
    positiveInteger('leaseMs', leaseMs);
    if (slotIds.length === 0) return { lost: [], now: await this.time() };
    // A slot of one scope is a permit of one scope: the same script renews both.
    const reply = list(await this.scripts.run('renewPermits', [this.keys.key('slots', scope)], [node, String(leaseMs), ...slotIds]));
    return { now: int(reply[0]), lost: reply.slice(1).map(str) };
  }

  /** Hand slots back; answers how many were still held (an expired one is already gone). */
  async releaseSlots(scope: string, slotIds: readonly string[]): Promise<number> {
    if (slotIds.length === 0) return 0;
    return this.client.zRem(this.keys.key('slots', scope), [...slotIds]);
  }

  /** Several releases in one pipeline. */
  releaseSlotsMany(returns: readonly { scope: string; slotIds: readonly string[] }[]): Promise<number[]> {
    return Promise.all(returns.map((item) => this.releaseSlots(item.scope, item.slotIds)));
  }

  /** Hand back every slot `node` holds in `scope` (a clean shutdown). */
  async releaseNodeSlots(scope: string, node: string): Promise<number> {
    checkNode(node);
    return int(await this.scripts.run('releaseNodeSlots', [this.keys.key('slots', scope)], [node]));
  }

  /** Slots of `scope` held now by every node (unexpired leases). */
  async slotsHeld(scope: string): Promise<number> {
    const reply = list(await this.scripts.run('countSlots', [this.keys.key('slots', scope)], []));
    return int(reply[1]);
  }

  /**
   * GCRA: take up to `n` cells of `scope`'s rate, exact across every caller: in any window of W
   * seconds at most `burst + floor(W · ratePerSecond)` cells are granted.
   */
  async rateTake(scope: string, ratePerSecond: number, burst: number, n: number): Promise<RateGrant> {
    positive('ratePerSecond', ratePerSecond);
    checkCount('burst', burst, 1, Number.MAX_SAFE_INTEGER);
    checkCount('n', n, 1, MAX_SLOTS_PER_CALL);
    const reply = list(await this.scripts.run('rateTake', [this.keys.key('rate', scope)], [String(ratePerSecond), String(burst), String(n)]));
    return { now: int(reply[0]) / 1000, granted: int(reply[1]), nextAt: int(reply[2]) / 1000 };
  }

  /** Pause `domain` for `ms` from Redis now (Retry-After in seconds). Pauses only lengthen. */
  pauseFor(domain: string, ms: number): Promise<{ pausedUntil: number; now: number }> {
    return this.pause(domain, 'for', nonNegative('ms', ms));
  }

  /** Pause `domain` until a time in ms since the epoch (Retry-After as an HTTP date). */
  pauseUntil(domain: string, at: number): Promise<{ pausedUntil: number; now: number }> {
    return this.pause(domain, 'until', nonNegative('at', at));
  }

  /** When `domain`'s pause ends; 0 when it is not paused. */
  async pausedUntil(domain: string): Promise<{ pausedUntil: number; now: number }> {
    const reply = list(await this.scripts.run('pausedUntil', [this.keys.key('pause', domain)], []));
    return { now: int(reply[0]), pausedUntil: int(reply[1]) };
  }

  /** A 429/503/timeout from `domain`: halve its effective concurrency (once per window), down to 1. */
  aimdThrottle(domain: string, configured: number): Promise<number> {
    return this.aimd('aimdThrottle', domain, configured);
  }

  /** A success from `domain`: +1 when a full window has passed since the last change, up to `configured`. */
  aimdSuccess(domain: string, configured: number): Promise<number> {
    return this.aimd('aimdSuccess', domain, configured);
  }

  /** `domain`'s effective concurrency now, 1..configured. */
  async aimdEffective(domain: string, configured: number): Promise<number> {
    checkCount('configured', configured, 1, Number.MAX_SAFE_INTEGER);
    const reply = list(await this.scripts.run('aimdEffective', [this.keys.key('aimd', domain)], [String(configured)]));
    return int(reply[1]);
  }

  /** May a request to `domain` start? Half-open: exactly one caller in the cluster gets `probe`. */
  async circuitPass(domain: string): Promise<CircuitPass> {
    const reply = list(await this.scripts.run('circuitPass', [this.keys.key('circuit', domain)], [String(this.probeLeaseMs)]));
    const allowed = int(reply[1]) === 1;
    const state = stateOf(reply[2]);
    const retryAt = int(reply[3]);
    return { now: int(reply[0]), allowed, probe: allowed && state === 'half-open', state, ...(allowed ? {} : { retryAt }) };
  }

  /** `domain` answered well: the circuit closes. Answers the state before (not closed: emit `circuit-closed`). */
  async circuitSuccess(domain: string): Promise<CircuitStateName> {
    const reply = list(await this.scripts.run('circuitSuccess', [this.keys.key('circuit', domain)], []));
    return stateOf(reply[1]);
  }

  /** A connection failure or 5xx from `domain`. */
  async circuitFailure(domain: string): Promise<CircuitFailure> {
    const args = [String(this.failureThreshold), String(this.coolDownMs), String(this.stateTtlMs)];
    const reply = list(await this.scripts.run('circuitFailure', [this.keys.key('circuit', domain)], args));
    const state = stateOf(reply[1]);
    const openUntil = int(reply[2]);
    return { now: int(reply[0]), state, ...(state === 'open' ? { openUntil } : {}), opened: int(reply[3]) === 1, failures: int(reply[4]) };
  }

  /**
   * Up to `ask.n` permits to start deliveries, every limit checked in one atomic script: pause,
   * circuit, the domain's slots under min(configured, AIMD), the tenant's and the global slots,
   * then the domain's rate. Permits are leases of `leaseMs`: renew them while deliveries run.
   */
  async acquire(node: string, ask: PermitAsk, leaseMs: number): Promise<PermitGrant> {
    checkNode(node);
    checkCount('n', ask.n, 1, MAX_SLOTS_PER_CALL);
    checkCount('concurrency', ask.concurrency, 1, Number.MAX_SAFE_INTEGER);
    positiveInteger('leaseMs', leaseMs);
    const keys = [
      this.keys.key('slots', `domain:${ask.domain}`),
      this.keys.slotSequence(),
      this.keys.key('pause', ask.domain),
      this.keys.key('circuit', ask.domain),
      this.keys.key('aimd', ask.domain),
      this.keys.key('rate', `domain:${ask.domain}`),
      this.keys.key('slots', `tenant:${ask.tenant}`),
      this.keys.key('slots', 'global'),
      this.keys.key('turns', ask.domain),
      this.keys.key('asked', ask.domain),
      this.keys.key('active', 'domains'),
    ];
    const args = [
      node,
      String(ask.n),
      String(leaseMs),
      String(ask.concurrency),
      ask.rate ? String(positive('rate.perSecond', ask.rate.perSecond)) : '',
      ask.rate ? String(checkCount('rate.burst', ask.rate.burst, 1, Number.MAX_SAFE_INTEGER)) : '',
      ask.tenantConcurrency === undefined ? '' : String(checkCount('tenantConcurrency', ask.tenantConcurrency, 0, Number.MAX_SAFE_INTEGER)),
      ask.globalConcurrency === undefined ? '' : String(checkCount('globalConcurrency', ask.globalConcurrency, 0, Number.MAX_SAFE_INTEGER)),
      String(this.probeLeaseMs),
      ask.tenant,
      ask.domain,
    ];
    const reply = list(await this.scripts.run('acquire', keys, args));
    const granted = int(reply[1]);
    const hold = granted > 0 ? undefined : HOLDS[int(reply[2])];
    const retryAt = int(reply[3]);
    return {
      now: int(reply[0]),
      ids: reply.slice(7).map(str),
      ...(hold ? { hold } : {}),
      ...(retryAt > 0 ? { retryAt } : {}),
      effective: int(reply[4]),
      failures: int(reply[5]),
      probe: int(reply[6]) === 1,
    };
  }

  /**
   * Hand permits back (each leaves every scope it was taken in); when tenants wait for the domain,
   * {@link onFreed} listeners on every node hear of it. Answers how many were still held.
   */
  async releasePermits(scopes: PermitScopes, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const keys = [this.keys.key('turns', scopes.domain), ...this.permitKeys(scopes)];
    return int(await this.scripts.run('releasePermits', keys, [this.keys.freedChannel(), scopes.domain, ...ids]));
  }

  /**
   * Hear of places freed at domains where tenants wait (from any node). Opens the pub/sub connection
   * on first use; it reconnects and subscribes again by itself.
   */
  async onFreed(listener: (domain: string) => void): Promise<void> {
    this.freedListeners.push(listener);
    if (this.subscriber) return;
    const subscriber = this.client.duplicate();
    subscriber.on('error', () => {}); // the command connection reports the same outage
    this.subscriber = subscriber;
    await subscriber.connect();
    await subscriber.subscribe(this.keys.freedChannel(), (domain: string) => {
      for (const each of this.freedListeners) each(domain);
    });
  }

  /** Extend this node's permits to `leaseMs` from now; `lost` had expired: start nothing more on them. */
  async renewPermits(scopes: PermitScopes, node: string, ids: readonly string[], leaseMs: number): Promise<{ lost: string[]; now: number }> {
    checkNode(node);
    positiveInteger('leaseMs', leaseMs);
    if (ids.length === 0) return { lost: [], now: await this.time() };
    const reply = list(await this.scripts.run('renewPermits', this.permitKeys(scopes), [node, String(leaseMs), ...ids]));
    return { now: int(reply[0]), lost: reply.slice(1).map(str) };
  }

  /** The `max` domains of the cluster asked for most recently (in the last hour), newest first. */
  async activeDomains(max: number): Promise<string[]> {
    const reply = await this.client.zRange(this.keys.key('active', 'domains'), 0, max - 1, { REV: true });
    return reply.map(str);
  }

  /** The shared state of some domains, in one pipeline (read-only). */
  view(domains: readonly { key: string; concurrency: number }[]): Promise<DomainView[]> {
    return Promise.all(
      domains.map(async ({ key, concurrency }) => {
        const keys = [this.keys.key('slots', `domain:${key}`), this.keys.key('pause', key), this.keys.key('circuit', key), this.keys.key('aimd', key)];
        const reply = list(await this.scripts.run('view', keys, [String(concurrency)]));
        return { now: int(reply[0]), inFlight: int(reply[1]), pausedUntil: int(reply[2]), circuit: stateOf(reply[3]), openUntil: int(reply[4]), effective: int(reply[5]) };
      }),
    );
  }

  private permitKeys(scopes: PermitScopes): string[] {
    const keys = [this.keys.key('slots', `domain:${scopes.domain}`)];
    if (scopes.tenant !== undefined) keys.push(this.keys.key('slots', `tenant:${scopes.tenant}`));
    if (scopes.global) keys.push(this.keys.key('slots', 'global'));
    return keys;
  }

  /** Redis time, ms (microsecond precision): the clock every limit decision uses. */
  async time(): Promise<number> {
    const [seconds, micros] = list(await this.client.sendCommand(['TIME'])).map((part) => Number(str(part)));
    return seconds! * 1000 + micros! / 1000;
  }

  /** Redis's `maxmemory-policy`: anything but `noeviction` may evict a slot and break a limit. */
  async maxmemoryPolicy(): Promise<string | undefined> {
    const reply = await this.client.configGet('maxmemory-policy').catch(() => undefined);
    return reply?.['maxmemory-policy'];
  }

  /** Delete every key under this prefix (tests; decommissioning a cluster). Answers how many. */
  async deleteAll(): Promise<number> {
    let deleted = 0;
    for await (const keys of this.client.scanIterator({ MATCH: this.keys.pattern, COUNT: 1_000 })) {
      if (keys.length > 0) deleted += await this.client.unlink(keys);
    }
    return deleted;
  }

  async close(): Promise<void> {
    await this.subscriber?.close().catch(() => {});
    await this.client.close();
  }

  private async pause(domain: string, mode: 'for' | 'until', ms: number): Promise<{ pausedUntil: number; now: number }> {
    const reply = list(await this.scripts.run('pause', [this.keys.key('pause', domain)], [mode, String(ms)]));
    return { now: int(reply[0]), pausedUntil: int(reply[1]) };
  }

  private async aimd(name: 'aimdThrottle' | 'aimdSuccess', domain: string, configured: number): Promise<number> {
    checkCount('configured', configured, 1, Number.MAX_SAFE_INTEGER);
    const args = [String(configured), String(this.aimdWindowMs), String(this.stateTtlMs)];
    const reply = list(await this.scripts.run(name, [this.keys.key('aimd', domain)], args));
    return int(reply[1]);
  }
}

/**
 * The one connection. Before it first opens, a failure is final (open() rejects instead of retrying
 * forever: a node must not start believing it has limits); after, it reconnects by itself, every
 * 50 ms growing to 2 s, and calls made meanwhile reject at once rather than queue.
 */
function newClient(options: RedisLimitsOptions, connection: { opened: boolean }) {
  return createClient({
    url: options.url,
    name: `sluice-limits:${options.prefix}`, // CLIENT LIST tells which connections are the limits'
    // A limit decision that waits for a reconnect is worse than none: fail at once, pause sending.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      reconnectStrategy: (retries: number, cause: Error) => (connection.opened ? Math.min(50 * 2 ** retries, 2_000) : cause),
    },
  });
}

/** The node-redis client the limits use: one connection for every command. */
type RedisClient = ReturnType<typeof newClient>;

function list(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected reply from Redis: ${JSON.stringify(reply)}`);
  return reply;
}

function int(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`expected a number from Redis, got ${JSON.stringify(value)}`);
  return value;
}

function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new Error(`expected a string from Redis, got ${JSON.stringify(value)}`);
}

function stateOf(value: unknown): CircuitStateName {
  const state = STATES[int(value)];
  if (state === undefined) throw new Error(`unknown circuit state ${String(value)}`);
  return state;
}

function checkNode(node: string): void {
  if (node.length === 0 || node.includes('|')) throw new Error(`node must be a non-empty id without '|', got ${JSON.stringify(node)}`);
}

function checkCount(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

function positiveInteger(name: string, value: number): number {
  return checkCount(name, value, 1, Number.MAX_SAFE_INTEGER);
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a finite number greater than 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a finite number of at least 0, got ${value}`);
  return value;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
