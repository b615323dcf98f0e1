import { expect, it } from 'vitest';
import { RedisLimits, type RedisLimitsOptions, type RateGrant } from '../../src/delivery/limiter/redis-limits.js';
import { describeRedis, eventually, rawClient, redisLimitsPerTest } from './redis-support.js';

/**
 * The limits shared in Redis, against the real server. Several RedisLimits on one prefix are
 * several nodes. Nothing here asserts how long something took: bounds are checked on counts of
 * grants and on Redis TIME as the scripts reported it, so a slow machine changes how many calls
 * happen, never whether an assertion holds.
 */

/** Run `workers` async loops at once, each `rounds` times. */
async function concurrently(workers: number, rounds: number, body: (worker: number, round: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    for (let round = 0; round < rounds; round += 1) await body(worker, round);
  }));
}

/** A small seeded generator, so a failing property case can be told apart and re-run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A few nodes on one prefix. */
async function nodes(open: (options?: Partial<RedisLimitsOptions>) => Promise<RedisLimits>, count: number, options: Partial<RedisLimitsOptions> = {}) {
  return Promise.all(Array.from({ length: count }, () => open(options)));
}

describeRedis('RedisLimits against Redis', () => {
  const { open, prefix } = redisLimitsPerTest();

  it('GCRA grants never exceed burst + rate·W in any window, over many concurrent callers on three nodes', async () => {
    const cluster = await nodes(open, 3);
    const rate = 200;
    const burst = 10;
    const grants: RateGrant[] = [];
    let refusals = 0;
    await concurrently(48, 30, async (worker, round) => {
      const limits = cluster[worker % 3]!;
      const grant = await limits.rateTake('domain:api.example.com', rate, burst, 1 + ((worker + round) % 3));
      if (grant.granted > 0) grants.push(grant);
      else {
        refusals += 1;
        expect(grant.nextAt).toBeGreaterThan(grant.now);
      }
    });
    grants.sort((a, b) => a.now - b.now);
    const total = grants.reduce((sum, grant) => sum + grant.granted, 0);
    expect(total).toBeGreaterThanOrEqual(burst); // the idle limiter lets a whole burst go
    expect(refusals).toBeGreaterThan(0); // 1,440 asks of 1-3 cells at 200/s: the limit did bind
    // Every window [t_i, t_j] between two grants, by Redis time (µs precision).
    for (let i = 0; i < grants.length; i += 1) {
      let inWindow = 0;
      for (let j = i; j < grants.length; j += 1) {
        inWindow += grants[j]!.granted;
        const windowSeconds = (grants[j]!.now - grants[i]!.now) / 1000;
        const bound = burst + Math.floor(windowSeconds * rate + 1e-9);
        if (inWindow > bound) throw new Error(`${inWindow} cells granted in ${windowSeconds} s (bound ${bound}), grants ${i}..${j}`);
      }
    }
  });

  it('GCRA: an idle limiter grants exactly its burst, then refuses until the time it names', async () => {
    const limits = await open();
    const first = await limits.rateTake('domain:slow.example', 0.001, 4, 10); // one cell per 1,000 s
    expect(first.granted).toBe(4);
    const refused = await limits.rateTake('domain:slow.example', 0.001, 4, 1);
    expect(refused.granted).toBe(0);
    expect(refused.nextAt - refused.now).toBeGreaterThan(990_000);
    expect(refused.nextAt - refused.now).toBeLessThanOrEqual(1_000_000);

    const fast = await limits.rateTake('domain:fast.example', 20, 2, 5); // one cell per 50 ms
    expect(fast.granted).toBe(2);
    const wait = await limits.rateTake('domain:fast.example', 20, 2, 1);
    if (wait.granted === 0) {
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait.nextAt - wait.now) + 5));
      expect((await limits.rateTake('domain:fast.example', 20, 2, 1)).granted).toBe(1);
    }
  });

  it('GCRA: a lower rate applies at once and keeps what the past owes', async () => {
    const limits = await open();
    expect((await limits.rateTake('domain:a', 0.1, 5, 5)).granted).toBe(5);
    // 5 cells at 0.1/s are owed for 50 s; at 0.001/s the same cells are owed for 5,000 s, so
    // nothing may go (unless this machine stalled for 10 s between the two calls).
    expect((await limits.rateTake('domain:a', 0.001, 5, 5)).granted).toBe(0);
    expect((await limits.rateTake('domain:a', 0.001, 5, 5)).granted).toBe(0);
    // A fresh scope at the same limits grants the whole burst: the refusal came from the history.
    expect((await limits.rateTake('domain:b', 0.001, 5, 5)).granted).toBe(5);
  });

  it('never holds more slots than the limit, with 30 concurrent takers on three nodes', async () => {
    const cluster = await nodes(open, 3);
    const limit = 7;
    let holding = 0;
    let most = 0;
    let granted = 0;
    let refused = 0;
    await concurrently(30, 20, async (worker, round) => {
      const limits = cluster[worker % 3]!;
      const take = await limits.takeSlots('domain:busy.example', `node-${worker % 3}`, 1 + ((worker + round) % 3), limit, 60_000);
      expect(take.held).toBeLessThanOrEqual(limit);
      if (take.slotIds.length === 0) {
        refused += 1;
        return;
      }
      granted += take.slotIds.length;
      holding += take.slotIds.length;
      most = Math.max(most, holding);
      await new Promise((resolve) => setImmediate(resolve)); // hold them across other callers' turns
      holding -= take.slotIds.length;
      expect(await limits.releaseSlots('domain:busy.example', take.slotIds)).toBe(take.slotIds.length);
    });
    expect(most).toBeLessThanOrEqual(limit);
    expect(most).toBe(limit); // 30 takers wanting up to 3 each: the limit was reached, and held
    expect(granted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(await cluster[0]!.slotsHeld('domain:busy.example')).toBe(0);
  });

  it('gives a dead node\'s slots back after their lease, never before (random cases)', async () => {
    const next = random(20261204);
    const cases = Array.from({ length: 6 }, (_, index) => {
      const limit = 2 + Math.floor(next() * 5);
      return { scope: `domain:case-${index}`, limit, dead: 1 + Math.floor(next() * limit), leaseMs: 150 + Math.floor(next() * 450) };
    });
    const [dead, live] = await nodes(open, 2);
    await Promise.all(cases.map(async ({ scope, limit, dead: deadTakes, leaseMs }) => {
      const taken = await dead!.takeSlots(scope, 'dead-node', deadTakes, limit, leaseMs);
      expect(taken.slotIds).toHaveLength(deadTakes);
      const expiry = taken.now + leaseMs;
      const first = await live!.takeSlots(scope, 'live-node', limit, limit, 60_000);
      if (first.now < expiry) expect(first.slotIds).toHaveLength(limit - deadTakes);
      // The dead node never renews nor releases: its slots come back, and not before their expiry.
      let got = first.slotIds.length;
      await eventually(async () => {
        const more = await live!.takeSlots(scope, 'live-node', limit, limit, 60_000);
        if (more.now < expiry) expect(more.slotIds).toHaveLength(0);
        got += more.slotIds.length;
        return got === limit;
      }, `${JSON.stringify({ scope, limit, deadTakes, leaseMs })}: the dead node's slots back`);
      expect(got).toBe(limit);
      expect(await live!.slotsHeld(scope)).toBe(limit);
    }));
  });

  it('takes and returns in batches, across scopes in one pipeline', async () => {
    const limits = await open();
    const a = await limits.takeSlots('domain:a', 'n1', 5, 8, 60_000);
    expect(a.slotIds).toHaveLength(5);
    expect(new Set(a.slotIds).size).toBe(5);
    expect(a.held).toBe(5);
    const b = await limits.takeSlots('domain:a', 'n1', 5, 8, 60_000);
    expect(b.slotIds).toHaveLength(3);
    expect(b.held).toBe(8);
    expect(await limits.releaseSlots('domain:a', a.slotIds.slice(0, 4))).toBe(4);
    expect(await limits.releaseSlots('domain:a', a.slotIds.slice(0, 4))).toBe(0); // already back
    expect((await limits.takeSlots('domain:a', 'n1', 10, 8, 60_000)).slotIds).toHaveLength(4);

    const many = await limits.takeSlotsMany('n1', [
      { scope: 'domain:b', n: 3, limit: 2 },
      { scope: 'tenant:acme', n: 2, limit: 10 },
      { scope: 'global', n: 4, limit: 4 },
    ], 60_000);
    expect(many.map((grant) => grant.slotIds.length)).toEqual([2, 2, 4]);
    const back = await limits.releaseSlotsMany(many.map((grant, i) => ({ scope: ['domain:b', 'tenant:acme', 'global'][i]!, slotIds: grant.slotIds })));
    expect(back).toEqual([2, 2, 4]);
    expect(await limits.slotsHeld('global')).toBe(0);

    await limits.takeSlots('domain:c', 'n1', 3, 10, 60_000);
    await limits.takeSlots('domain:c', 'n2', 2, 10, 60_000);
    expect(await limits.releaseNodeSlots('domain:c', 'n1')).toBe(3);
    expect(await limits.slotsHeld('domain:c')).toBe(2);
  });

  it('renewing keeps slots alive for several leases; stopping lets them go; another node\'s or an expired slot is lost', async () => {
    const [holder, other] = await nodes(open, 2);
    // Long enough that a loaded machine's stall between two renewals does not let a slot lapse.
    const leaseMs = 3_000;
    const taken = await holder!.takeSlots('domain:r', 'holder', 3, 4, leaseMs);
    expect(taken.slotIds).toHaveLength(3);
    let otherHolds = 0;
    let renewals = 0;
    for (let now = taken.now; now < taken.now + 2 * leaseMs; renewals += 1) {
      const renewed = await holder!.renewSlots('domain:r', 'holder', taken.slotIds, leaseMs);
      expect(renewed.lost).toEqual([]);
      const squeeze = await other!.takeSlots('domain:r', 'other', 4, 4, 60_000);
      otherHolds += squeeze.slotIds.length;
      expect(otherHolds).toBe(1); // the holder's three stay held past their first lease
      now = squeeze.now;
      await new Promise((resolve) => setTimeout(resolve, leaseMs / 10));
    }
    expect(renewals).toBeGreaterThan(1);
    const notTheirs = await other!.renewSlots('domain:r', 'other', taken.slotIds, leaseMs);
    expect(notTheirs.lost).toEqual(taken.slotIds);
    // No more renewals: the holder's three come back, to the other node.
    await eventually(async () => {
      otherHolds += (await other!.takeSlots('domain:r', 'other', 4, 4, 60_000)).slotIds.length;
      return otherHolds === 4;
    }, 'the holder\'s slots to expire');
    const late = await holder!.renewSlots('domain:r', 'holder', taken.slotIds, leaseMs);
    expect(late.lost).toEqual(taken.slotIds);
    expect(await holder!.slotsHeld('domain:r')).toBe(4); // the other's four; the late renewal revived none
  });

  it('shares a Retry-After pause between nodes; pauses only lengthen, and end', async () => {
    const [a, b] = await nodes(open, 2);
    const long = await a!.pauseFor('api.example.com', 60_000);
    expect(long.pausedUntil).toBeGreaterThanOrEqual(long.now + 60_000);
    expect((await b!.pausedUntil('api.example.com')).pausedUntil).toBe(long.pausedUntil);
    const shorter = await b!.pauseFor('api.example.com', 1_000);
    expect(shorter.pausedUntil).toBe(long.pausedUntil);
    const later = await b!.pauseUntil('api.example.com', long.pausedUntil + 5_000);
    expect(later.pausedUntil).toBe(long.pausedUntil + 5_000);
    expect((await a!.pausedUntil('api.example.com')).pausedUntil).toBe(long.pausedUntil + 5_000);

    expect((await a!.pauseUntil('past.example', (await a!.time()) - 1_000)).pausedUntil).toBe(0);
    expect((await a!.pausedUntil('never.example')).pausedUntil).toBe(0);
    const brief = await a!.pauseFor('brief.example', 200);
    expect(brief.pausedUntil).toBeGreaterThan(0);
    const ended = await eventually(async () => {
      const view = await b!.pausedUntil('brief.example');
      return view.pausedUntil === 0 ? view : undefined;
    }, 'the 200 ms pause to end');
    expect(ended.now).toBeGreaterThanOrEqual(brief.pausedUntil);
  });

  it('AIMD: halves once per wave, down to 1, grows back one per window of successes, never above the limit, shared', async () => {
    const [slow, other] = await nodes(open, 2, { aimdWindowMs: 600_000 });
    expect(await slow!.aimdEffective('d', 16)).toBe(16);
    expect(await slow!.aimdThrottle('d', 16)).toBe(8);
    expect(await other!.aimdThrottle('d', 16)).toBe(8); // the same wave, seen from another node
    expect(await other!.aimdEffective('d', 16)).toBe(8);
    expect(await slow!.aimdSuccess('d', 16)).toBe(8); // no window has passed
    expect(await slow!.aimdEffective('d', 4)).toBe(4); // a lower configured limit clamps at once
    expect(await slow!.aimdEffective('full', 32)).toBe(32); // untouched: at whatever is configured

    const fast = await open({ aimdWindowMs: 100 });
    const downs: number[] = [];
    while (downs.length < 6) {
      downs.push(await fast.aimdThrottle('e', 16));
      const after = await fast.time();
      await eventually(async () => (await fast.time()) >= after + 100, 'a window to pass');
    }
    expect(downs).toEqual([8, 4, 2, 1, 1, 1]);

    const ups: number[] = [1];
    await eventually(async () => {
      const effective = await fast.aimdSuccess('e', 4);
      if (ups.at(-1) !== effective) ups.push(effective);
      return effective === 4;
    }, 'growth back to the limit of 4');
    expect(ups).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 5; i += 1) expect(await fast.aimdSuccess('e', 4)).toBe(4);
    const raw = await rawClient();
    try {
      expect(await raw.exists(fast.keys.key('aimd', 'e'))).toBe(0); // back at the limit: no state kept
    } finally {
      await raw.close();
    }
  });

  it('circuit: opens at the threshold (one caller told it opened), refuses while open, one probe when half-open, closes on success', async () => {
    const [a, b] = await nodes(open, 2, { circuit: { failureThreshold: 3, coolDownMs: 200 } });
    expect((await a!.circuitFailure('d')).state).toBe('closed');
    await b!.circuitFailure('d');
    expect(await a!.circuitSuccess('d')).toBe('closed'); // a success resets the count
    const failures = await Promise.all([a, b, a, b, a].map((node) => node!.circuitFailure('d')));
    expect(failures.filter((failure) => failure.opened)).toHaveLength(1);
    const opened = failures.find((failure) => failure.opened)!;
    expect(opened.failures).toBe(3);
    expect(opened.openUntil).toBe(opened.now + 200);

    const refused = await b!.circuitPass('d');
    if (refused.now < opened.openUntil!) expect(refused).toMatchObject({ allowed: false, state: 'open', retryAt: opened.openUntil });
    const probe = await eventually(async () => {
      const pass = await a!.circuitPass('d');
      return pass.allowed ? pass : undefined;
    }, 'the cool-down to end');
    expect(probe).toMatchObject({ probe: true, state: 'half-open' });
    expect(probe.now).toBeGreaterThanOrEqual(opened.openUntil!);
    expect(await b!.circuitPass('d')).toMatchObject({ allowed: false, state: 'half-open' });

    const again = await a!.circuitFailure('d'); // the probe failed: open for another cool-down
    expect(again).toMatchObject({ state: 'open', opened: true, openUntil: again.now + 200 });
    await eventually(async () => (await b!.circuitPass('d')).probe, 'a second probe');
    expect(await b!.circuitSuccess('d')).toBe('half-open');
    expect(await a!.circuitPass('d')).toMatchObject({ allowed: true, probe: false, state: 'closed' });
  });

  it('grants exactly one half-open probe among 60 concurrent callers on three nodes, another after its lease', async () => {
    const cluster = await nodes(open, 3, { circuit: { failureThreshold: 1, coolDownMs: 100, probeLeaseMs: 300 } });
    const opened = await cluster[0]!.circuitFailure('d');
    expect(opened.opened).toBe(true);
    await eventually(async () => (await cluster[0]!.time()) > opened.openUntil!, 'the cool-down to end');
    const passes = await Promise.all(Array.from({ length: 60 }, (_, i) => cluster[i % 3]!.circuitPass('d')));
    const probes = passes.filter((pass) => pass.allowed);
    expect(probes).toHaveLength(1);
    expect(probes[0]!.probe).toBe(true);
    expect(passes.every((pass) => pass.state === 'half-open')).toBe(true);
    // Its node never reports: once the probe's lease ends, one more may go.
    const second = await eventually(async () => {
      const pass = await cluster[1]!.circuitPass('d');
      return pass.allowed ? pass : undefined;
    }, 'a probe after the first one\'s lease');
    expect(second.now).toBeGreaterThanOrEqual(probes[0]!.now + 300);
  });

  it('recovers from NOSCRIPT after SCRIPT FLUSH, for single calls and a pipeline of them', async () => {
    const limits = await open();
    await limits.takeSlots('domain:x', 'n', 1, 10, 60_000);
    const raw = await rawClient();
    try {
      await raw.scriptFlush();
      const [slots, rate, pause, effective, pass] = await Promise.all([
        limits.takeSlots('domain:x', 'n', 2, 10, 60_000),
        limits.rateTake('domain:x', 10, 3, 2),
        limits.pauseFor('x', 1_000),
        limits.aimdThrottle('x', 8),
        limits.circuitPass('x'),
      ]);
      expect(slots.slotIds).toHaveLength(2);
      expect(rate.granted).toBe(2);
      expect(pause.pausedUntil).toBeGreaterThan(0);
      expect(effective).toBe(4);
      expect(pass.allowed).toBe(true);
      await raw.scriptFlush();
      const grants = await limits.takeSlotsMany('n', Array.from({ length: 20 }, (_, i) => ({ scope: `domain:p${i}`, n: 1, limit: 1 })), 60_000);
      expect(grants.every((grant) => grant.slotIds.length === 1)).toBe(true);
    } finally {
      await raw.close();
    }
  });

  it('reconnects by itself after its connection is cut, and reports the cut', async () => {
    const errors: Error[] = [];
    const limits = await open({ onConnectionError: (error) => errors.push(error) });
    expect((await limits.takeSlots('domain:k', 'n', 1, 5, 60_000)).slotIds).toHaveLength(1);
    const raw = await rawClient();
    try {
      const ours = (await raw.clientList()).filter((client) => client.name === `sluice-limits:${prefix()}`);
      expect(ours).toHaveLength(1);
      await raw.clientKill({ filter: 'ID', id: Number(ours[0]!.id) });
    } finally {
      await raw.close();
    }
    const failures: unknown[] = [];
    const grant = await eventually(() => limits.takeSlots('domain:k', 'n', 1, 5, 60_000).catch((error: unknown) => {
      failures.push(error);
      return undefined;
    }), 'a grant after the reconnect');
    expect(grant.held).toBe(2);
    expect(failures.every((failure) => failure instanceof Error)).toBe(true);
    expect(errors.length).toBeGreaterThan(0); // the cut was reported
  });

  it('keeps every key under its prefix, with an expiry on all but the slot id counter', async () => {
    const limits = await open({ circuit: { failureThreshold: 5 } });
    await limits.takeSlots('domain:k', 'n', 1, 1, 60_000);
    await limits.rateTake('domain:k', 1, 1, 1);
    await limits.pauseFor('k', 60_000);
    await limits.aimdThrottle('k', 8);
    await limits.circuitFailure('k');
    const raw = await rawClient();
    try {
      const keys: string[] = [];
      for await (const batch of raw.scanIterator({ MATCH: `sluice:{${prefix()}}:*`, COUNT: 1_000 })) keys.push(...batch);
      expect(keys.sort()).toEqual(['aimd:k', 'circuit:k', 'pause:k', 'rate:domain:k', 'slot-sequence', 'slots:domain:k'].map((name) => `sluice:{${prefix()}}:v1:${name}`));
      for (const key of keys) {
        const ttl = await raw.pTTL(key);
        if (key.endsWith('slot-sequence')) expect(ttl).toBe(-1);
        else expect(ttl).toBeGreaterThan(0);
      }
      expect(await limits.deleteAll()).toBe(6);
      expect(await limits.maxmemoryPolicy()).toBe((await raw.configGet('maxmemory-policy'))['maxmemory-policy']);
      expect(await raw.keys(`sluice:{${prefix()}}:*`)).toEqual([]);
    } finally {
      await raw.close();
    }
  });
});

/** Delete one key, through a connection of the test's own. */
async function rawUnlink(key: string): Promise<void> {
  const raw = await rawClient();
  try {
    await raw.unlink(key);
  } finally {
    await raw.close();
  }
}

describeRedis('RedisLimits.acquire: every limit of one delivery in one script', () => {
  const { open } = redisLimitsPerTest();
  const ask = { domain: 'api.example', tenant: 'acme', n: 10, concurrency: 4 };

  it('never holds more permits than the domain, tenant and global limits allow, with 30 concurrent askers on three nodes', async () => {
    const [a, b, c] = await nodes(open, 3);
    const held = new Map<string, { node: string; ids: string[]; tenant: string; domain: string }>();
    let maxDomain = 0;
    let maxTenant = 0;
    let maxGlobal = 0;
    const count = (pick: (entry: { tenant: string; domain: string }) => boolean) =>
      [...held.values()].filter(pick).reduce((sum, entry) => sum + entry.ids.length, 0);
    const rng = random(7);
    await concurrently(30, 15, async (worker) => {
      const limits = [a!, b!, c!][worker % 3]!;
      const node = `n${worker % 3}`;
      const domain = rng() < 0.5 ? 'one.example' : 'two.example';
      const tenant = worker % 2 === 0 ? 'acme' : 'globex';
      const grant = await limits.acquire(node, { domain, tenant, n: 1 + Math.floor(rng() * 3), concurrency: 5, tenantConcurrency: 6, globalConcurrency: 8 }, 60_000);
      const key = `${worker}`;
      held.set(key, { node, ids: grant.ids, tenant, domain });
      maxDomain = Math.max(maxDomain, count((e) => e.domain === 'one.example'), count((e) => e.domain === 'two.example'));
      maxTenant = Math.max(maxTenant, count((e) => e.tenant === 'acme'), count((e) => e.tenant === 'globex'));
      maxGlobal = Math.max(maxGlobal, count(() => true));
      await new Promise((resolve) => setImmediate(resolve));
      // Out of the count before the release: what is counted is always still held in Redis.
      held.delete(key);
      await limits.releasePermits({ domain, tenant, global: true }, grant.ids);
    });
    expect(maxDomain).toBeLessThanOrEqual(5);
    expect(maxTenant).toBeLessThanOrEqual(6);
    expect(maxGlobal).toBeLessThanOrEqual(8);
    expect(maxGlobal).toBeGreaterThan(0);
    for (const scope of ['domain:one.example', 'domain:two.example', 'tenant:acme', 'tenant:globex', 'global']) expect(await a!.slotsHeld(scope)).toBe(0);
  });

  it('grants min(configured, AIMD effective); a tenant without a limit leaves its scope alone', async () => {
    const limits = await open();
    expect((await limits.acquire('n1', ask, 60_000)).ids).toHaveLength(4);
    const full = await limits.acquire('n2', ask, 60_000);
    expect(full).toMatchObject({ ids: [], hold: 'concurrency', effective: 4 });
    expect(await limits.slotsHeld('tenant:acme')).toBe(0);
    await limits.aimdThrottle('other.example', 8);
    const throttled = await limits.acquire('n1', { ...ask, domain: 'other.example', concurrency: 8 }, 60_000);
    expect(throttled.ids).toHaveLength(4);
    expect(throttled.effective).toBe(4);
  });

  it('a Retry-After pause and an open circuit grant nothing and say until when; half-open grants one probe in the cluster', async () => {
    const [a, b] = await nodes(open, 2, { circuit: { failureThreshold: 2, coolDownMs: 200, probeLeaseMs: 60_000 } });
    const { pausedUntil } = await a!.pauseFor('paused.example', 30_000);
    const paused = await b!.acquire('n2', { ...ask, domain: 'paused.example' }, 60_000);
    expect(paused).toMatchObject({ ids: [], hold: 'retry-after', retryAt: pausedUntil });

    await a!.circuitFailure('broken.example');
    const opened = await a!.circuitFailure('broken.example');
    expect(opened.state).toBe('open');
    const refused = await b!.acquire('n2', { ...ask, domain: 'broken.example' }, 60_000);
    expect(refused).toMatchObject({ ids: [], hold: 'circuit', retryAt: opened.openUntil });
    await eventually(async () => (await a!.time()) >= opened.openUntil! + 1, 'the cool-down to pass');
    const answers = await Promise.all([a!, b!, a!, b!].map((limits, i) => limits.acquire(`n${i}`, { ...ask, domain: 'broken.example' }, 60_000)));
    const probes = answers.filter((answer) => answer.ids.length > 0);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ probe: true });
    expect(probes[0]!.ids).toHaveLength(1);
    expect(answers.filter((answer) => answer.ids.length === 0).every((answer) => answer.hold === 'circuit')).toBe(true);
  });

  it('rate: an idle domain grants its burst, then nothing until the time it names, exactly across nodes', async () => {
    const [a, b] = await nodes(open, 2);
    const rated = { ...ask, domain: 'rated.example', concurrency: 100, n: 20, rate: { perSecond: 10, burst: 3 } };
    const first = await a!.acquire('n1', rated, 60_000);
    expect(first.ids).toHaveLength(3);
    const second = await b!.acquire('n2', rated, 60_000);
    expect(second.ids.length === 0 ? second.hold : 'granted').toBe('rate');
    if (second.ids.length === 0) {
      expect(second.retryAt).toBeGreaterThan(second.now);
      // One cell per 100 ms; `now` is rounded down to the ms and the time of the next cell up.
      expect(second.retryAt! - second.now).toBeLessThanOrEqual(101);
    }
    // The refused rate took no slot: the three granted are all that is held.
    expect(await a!.slotsHeld('domain:rated.example')).toBe(3 + second.ids.length);
  });

  it('renews permits in every scope; after a flush they are lost, and the limits work again from the configuration alone', async () => {
    const limits = await open();
    const scopes = { domain: ask.domain, tenant: 'acme', global: true };
    const grant = await limits.acquire('n1', { ...ask, tenantConcurrency: 2, globalConcurrency: 10 }, 60_000);
    expect(grant.ids).toHaveLength(2);
    expect((await limits.renewPermits(scopes, 'n1', grant.ids, 60_000)).lost).toEqual([]);
    // Not n2's: lost to n2, and left alone (n2 must not free n1's places).
    expect((await limits.renewPermits(scopes, 'n2', grant.ids, 60_000)).lost).toEqual(grant.ids);
    expect(await limits.slotsHeld('global')).toBe(2);
    // One of n1's, gone from one scope (its tenant's): lost, and out of every scope.
    await rawUnlink(limits.keys.key('slots', 'tenant:acme'));
    expect((await limits.renewPermits(scopes, 'n1', grant.ids, 60_000)).lost).toEqual(grant.ids);
    expect(await limits.slotsHeld('global')).toBe(0);
    const again = await limits.acquire('n1', { ...ask, tenantConcurrency: 2, globalConcurrency: 10 }, 60_000);
    expect(again.ids).toHaveLength(2);
    await limits.deleteAll();
    expect((await limits.renewPermits(scopes, 'n1', again.ids, 60_000)).lost).toEqual(again.ids);
    expect((await limits.acquire('n1', { ...ask, tenantConcurrency: 2, globalConcurrency: 10 }, 60_000)).ids).toHaveLength(2);
    expect(await limits.releasePermits(scopes, again.ids)).toBe(0);
  });
});

describeRedis('RedisLimits.acquire: tenants take turns at a full domain', () => {
  const { open } = redisLimitsPerTest();

  it('a place freed goes to the tenant that has waited longest, whichever node asks first', async () => {
    const [a, b] = await nodes(open, 2);
    const askFor = (tenant: string) => ({ domain: 'shared.example', tenant, n: 5, concurrency: 2 });
    const busy = await a!.acquire('na', askFor('busy'), 60_000);
    expect(busy.ids).toHaveLength(2);
    // quiet asks from another node while the domain is full: it waits, first in line.
    expect(await b!.acquire('nb', askFor('quiet'), 60_000)).toMatchObject({ ids: [], hold: 'concurrency' });
    const scopes = { domain: 'shared.example', global: false };
    let held = busy.ids;
    const order: string[] = [];
    for (let round = 0; round < 6; round += 1) {
      await a!.releasePermits(scopes, [held.shift()!]);
      // busy asks first every time; it gets the place only when quiet is not waiting ahead of it.
      const first = await a!.acquire('na', askFor('busy'), 60_000);
      const second = await b!.acquire('nb', askFor('quiet'), 60_000);
      expect(first.ids.length + second.ids.length).toBe(1);
      order.push(first.ids.length > 0 ? 'busy' : 'quiet');
      held = [...held, ...first.ids, ...second.ids];
    }
    expect(order).toEqual(['quiet', 'busy', 'quiet', 'busy', 'quiet', 'busy']);
    expect(await a!.slotsHeld('domain:shared.example')).toBe(2);
  });

  it('a tenant that stopped asking leaves the line: its place is not kept from the others', async () => {
    const limits = await open();
    const askFor = (tenant: string) => ({ domain: 'line.example', tenant, n: 1, concurrency: 1 });
    const held = await limits.acquire('n1', askFor('a'), 60_000);
    expect((await limits.acquire('n1', askFor('b'), 60_000)).hold).toBe('concurrency'); // b waits
    await limits.releasePermits({ domain: 'line.example', global: false }, held.ids);
    const start = await limits.time();
    await eventually(async () => (await limits.time()) - start > 300, 'b to be gone from the line');
    expect((await limits.acquire('n1', askFor('a'), 60_000)).ids).toHaveLength(1);
  });
});

describeRedis('RedisLimits.onFreed: a place freed where tenants wait is published', () => {
  const { open } = redisLimitsPerTest();

  it('a node waiting for a full domain hears when another node frees a place there', async () => {
    const [a, b] = await nodes(open, 2);
    const heard: string[] = [];
    await b!.onFreed((domain) => heard.push(domain));
    const askFor = (tenant: string) => ({ domain: 'full.example', tenant, n: 1, concurrency: 1 });
    const held = await a!.acquire('na', askFor('one'), 60_000);
    expect((await b!.acquire('nb', askFor('two'), 60_000)).hold).toBe('concurrency');
    await a!.releasePermits({ domain: 'full.example', global: false }, held.ids);
    await eventually(() => heard.includes('full.example'), 'the publication');
    expect((await b!.acquire('nb', askFor('two'), 60_000)).ids).toHaveLength(1);
  });
});
