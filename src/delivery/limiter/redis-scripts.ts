/**
 * The Lua scripts of the limits shared in Redis (see {@link RedisLimits}). Each runs atomically on
 * the server, so "check, then take" is one step however many nodes ask at once.
 *
 * Rules every script follows:
 * - Time is Redis `TIME`, read inside the script, never a caller's clock: nodes' clocks may differ,
 *   and a limit must hold across them. (Redis ≥ 5 replicates a script's effects, not the script, so a
 *   script may read TIME and then write.) Leases, pauses, AIMD windows and circuits are in whole
 *   milliseconds; GCRA is in microseconds, the resolution of TIME, so that rates of thousands per
 *   second stay exact.
 * - Numbers written back go through `fmt` (`%.17g`): Redis turns a bare Lua number argument into a
 *   string with `%.14g`, which would round a microsecond timestamp (16 digits) to 100 µs.
 * - Every key a script touches is passed in KEYS, and all of them share one hash tag (see
 *   redis-keys.ts), so the scripts are also valid on a Redis Cluster.
 * - Each script's header lists its KEYS, ARGV and reply, as BullMQ's do.
 */

/** Prepended to every script: the clock and the number format. */
const PRELUDE = `
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function fmt(x)
  return string.format('%.17g', x)
end
-- Slots of a scope held now: expired leases (a dead node's) are removed first.
local function live_slots(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
  return redis.call('ZCARD', key)
end
-- Add leases ending at now + lease; the key outlives its longest lease.
local function add_slots(key, ids, now, lease)
  local expiry = fmt(now + lease)
  for _, id in ipairs(ids) do redis.call('ZADD', key, expiry, id) end
  if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
end
-- n new slot ids '<node>|<sequence>' from the shared counter.
local function new_slot_ids(sequence, node, n)
  local last = redis.call('INCRBY', sequence, n)
  local ids = {}
  for i = 1, n do ids[i] = node .. '|' .. string.format('%d', last - n + i) end
  return ids
end
`;

/**
 * GCRA, taking up to n cells at once: the same algorithm as gcra.ts, with the same anchor + count
 * form (TAT = anchor + count / rate, so it never drifts), in microseconds of Redis TIME. The j-th
 * further cell conforms when anchor + (count + j − burst) / rate ≤ now. Grants therefore satisfy,
 * in every window of W µs, count ≤ burst + floor(W · rate), across every caller. A change of rate
 * or burst carries over what the past owes (as Gcra.reconfigure does). The hash expires when its
 * TAT has passed: an idle limiter forgets its history anyway.
 * Returns the cells granted and when one more conforms (µs; equal to now: at once).
 */
const GCRA = `
local function gcra_take(key, rateArg, burstArg, n, now)
  local rate, burst = tonumber(rateArg), tonumber(burstArg)
  local state = redis.call('HMGET', key, 'anchor', 'count', 'rate', 'burst')
  local anchor, count = tonumber(state[1]), tonumber(state[2])
  local oldRate, oldBurst = tonumber(state[3]), tonumber(state[4])
  if anchor == nil or count == nil or oldRate == nil then
    anchor, count = now, 0
  elseif oldRate ~= rate or oldBurst ~= burst then
    local owed = math.max(0, anchor + count * 1000000 / oldRate - now) * oldRate / 1000000
    anchor, count = now, math.min(owed, burst)
  elseif now >= anchor + count * 1000000 / rate then
    anchor, count = now, 0
  end
  local conforming = math.floor((now - anchor) * rate / 1000000 + burst - count)
  local granted = math.max(0, math.min(n, conforming))
  count = count + granted
  local tat = anchor + count * 1000000 / rate
  local nextAt = math.ceil(anchor + (count + 1 - burst) * 1000000 / rate)
  if count > 0 then
    redis.call('HSET', key, 'anchor', fmt(anchor), 'count', fmt(count), 'rate', rateArg, 'burst', burstArg)
    redis.call('PEXPIRE', key, math.max(1, math.ceil((tat - now) / 1000)) + 1000)
  end
  return granted, math.max(now, nextAt)
end
`;

/** A domain's effective AIMD concurrency, read-only (the configured limit applied, not stored). */
const AIMD_READ = `
local function aimd_effective(key, configured)
  local state = redis.call('HMGET', key, 'cur', 'cfg')
  local cur, cfg = tonumber(state[1]) or configured, tonumber(state[2]) or configured
  if cur >= cfg or cur > configured then cur = configured end
  return cur
end
`;

/**
 * Take up to `n` concurrency slots as leases. Expired leases (a dead node's) are removed first, so
 * they count again as free after `leaseMs`. Slot ids are `<node>|<sequence>`; the node part lets
 * `renew` refuse another node's slot and `releaseNode` find a node's own.
 * KEYS[1] slots (sorted set: slot id → lease expiry, ms), KEYS[2] slot id sequence (string)
 * ARGV[1] node, ARGV[2] n, ARGV[3] limit, ARGV[4] leaseMs
 * Reply: { now ms, slots held after the take, granted id... }
 */
const TAKE_SLOTS = `
local now = math.floor(now_us() / 1000)
local n, limit, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local held = live_slots(KEYS[1], now)
local grant = math.max(0, math.min(n, limit - held))
local reply = { now, held + grant }
if grant == 0 then return reply end
local ids = new_slot_ids(KEYS[2], ARGV[1], grant)
add_slots(KEYS[1], ids, now, lease)
for _, id in ipairs(ids) do reply[#reply + 1] = id end
return reply
`;

/**
 * Release every slot a node holds (a node shutting down cleanly hands its slots back at once
 * instead of letting them expire).
 * KEYS[1] slots
 * ARGV[1] node
 * Reply: how many were released
 */
const RELEASE_NODE_SLOTS = `
local mine = ARGV[1] .. '|'
local released = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(id, 1, #mine) == mine then
    released = released + redis.call('ZREM', KEYS[1], id)
  end
end
return released
`;

/**
 * Slots held now (leases not yet expired). Read-only.
 * KEYS[1] slots
 * Reply: { now ms, held }
 */
const COUNT_SLOTS = `
local now = math.floor(now_us() / 1000)
return { now, redis.call('ZCOUNT', KEYS[1], '(' .. fmt(now), '+inf') }
`;

/**
 * GCRA (see gcra_take) on one scope.
 * KEYS[1] gcra (hash: anchor µs, count, rate, burst)
 * ARGV[1] ratePerSecond, ARGV[2] burst, ARGV[3] n
 * Reply: { now µs, granted, next µs } where next is when one more cell conforms (≤ now: at once)
 */
const RATE_TAKE = `${GCRA}
local now = now_us()
local granted, nextAt = gcra_take(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), now)
return { now, granted, nextAt }
`;

/**
 * Pause a domain (Retry-After) until a time, shared by every node. A pause only ever lengthens:
 * a shorter Retry-After arriving later does not cut a longer one short. The key expires at the end.
 * KEYS[1] pause (string: until ms)
 * ARGV[1] 'for' (ARGV[2] is a delay from Redis now) or 'until' (ARGV[2] is a time in ms)
 * Reply: { now ms, paused until ms, 0 when not paused }
 */
const PAUSE = `
local now = math.floor(now_us() / 1000)
local at = tonumber(ARGV[2])
if ARGV[1] == 'for' then at = now + at end
at = math.ceil(at)
local current = tonumber(redis.call('GET', KEYS[1])) or 0
if at > current and at > now then
  redis.call('SET', KEYS[1], fmt(at), 'PXAT', fmt(at))
  current = at
end
if current <= now then current = 0 end
return { now, current }
`;

/**
 * Read a domain's pause. Read-only.
 * KEYS[1] pause
 * Reply: { now ms, paused until ms, 0 when not paused }
 */
const PAUSED_UNTIL = `
local now = math.floor(now_us() / 1000)
local current = tonumber(redis.call('GET', KEYS[1])) or 0
if current <= now then current = 0 end
return { now, current }
`;

/**
 * AIMD state of a domain, shared by the next three scripts: effective concurrency `cur` under the
 * configured `cfg`, `dec` when it last went down, `grow` the start of the current growth window.
 * No hash means "at the configured limit". A change of the configured limit (ARGV[1] differs from
 * the stored one) applies as AdaptiveConcurrency.setConfigured does: a domain at its limit follows
 * the new one, a throttled one is clamped under it and keeps growing one step per window.
 */
const AIMD_PRELUDE = `
local now = math.floor(now_us() / 1000)
local configured, window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'cur', 'cfg', 'dec', 'grow')
local cur, cfg = tonumber(state[1]) or configured, tonumber(state[2]) or configured
local dec, grow = tonumber(state[3]), tonumber(state[4])
if cfg ~= configured then
  if cur >= cfg or cur > configured then cur = configured end
  cfg = configured
end
local function save()
  if cur >= cfg then
    redis.call('DEL', KEYS[1])
    return
  end
  redis.call('HSET', KEYS[1], 'cur', cur, 'cfg', cfg)
  if dec then redis.call('HSET', KEYS[1], 'dec', fmt(dec)) end
  if grow then redis.call('HSET', KEYS[1], 'grow', fmt(grow)) else redis.call('HDEL', KEYS[1], 'grow') end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
`;

/**
 * The domain pushed back (429, 503, a timeout): halve, down to 1, at most once per window (one wave
 * of throttled answers halves once), and restart the growth window.
 * KEYS[1] aimd (hash)
 * ARGV[1] configured, ARGV[2] windowMs, ARGV[3] idle ttl ms
 * Reply: { now ms, effective }
 */
const AIMD_THROTTLE = `${AIMD_PRELUDE}
grow = now
if dec == nil or now - dec >= window then
  dec = now
  cur = math.max(1, math.floor(cur / 2))
end
save()
return { now, cur }
`;

/**
 * A success: +1 when a full window has passed since the last change, up to the configured limit.
 * KEYS[1] aimd (hash)
 * ARGV[1] configured, ARGV[2] windowMs, ARGV[3] idle ttl ms
 * Reply: { now ms, effective }
 */
const AIMD_SUCCESS = `${AIMD_PRELUDE}
if cur < cfg then
  if grow == nil then
    grow = now
  elseif now - grow >= window then
    cur = cur + 1
    grow = now
  end
end
save()
return { now, cur }
`;

/**
 * The effective concurrency now. Read-only (the configured limit is applied, not stored).
 * KEYS[1] aimd (hash)
 * ARGV[1] configured
 * Reply: { now ms, effective }
 */
const AIMD_EFFECTIVE = `${AIMD_READ}
local now = math.floor(now_us() / 1000)
return { now, aimd_effective(KEYS[1], tonumber(ARGV[1])) }
`;

/**
 * Circuit of a domain: no hash = closed with no failures; `fail` consecutive failures while closed;
 * `until` the end of the cool-down (open before it, half-open after); `probe` the lease end of the
 * one half-open probe let through (so a probe whose node died frees the way after its lease).
 * States in replies: 0 closed, 1 open, 2 half-open.
 */
const CIRCUIT_STATE = `
local now = math.floor(now_us() / 1000)
local state = redis.call('HMGET', KEYS[1], 'fail', 'until', 'probe')
local fail, openUntil, probe = tonumber(state[1]) or 0, tonumber(state[2]), tonumber(state[3])
local code = 0
if openUntil then
  if now < openUntil then code = 1 else code = 2 end
end
`;

/**
 * May a request start? Closed: yes. Open: no. Half-open: exactly one caller in the cluster gets
 * the probe, until it reports or its lease ends.
 * KEYS[1] circuit (hash)
 * ARGV[1] probe lease ms
 * Reply: { now ms, allowed 0/1, state, until ms (open: cool-down end; half-open refused: probe lease end) }
 */
const CIRCUIT_PASS = `${CIRCUIT_STATE}
if code == 0 then return { now, 1, 0, 0 } end
if code == 1 then return { now, 0, 1, openUntil } end
if probe and probe > now then return { now, 0, 2, probe } end
redis.call('HSET', KEYS[1], 'probe', fmt(now + tonumber(ARGV[1])))
return { now, 1, 2, 0 }
`;

/**
 * The domain answered well: close and forget failures (a late success counts too, as in
 * circuit-breaker.ts: the domain answered).
 * KEYS[1] circuit (hash)
 * Reply: { now ms, state before }
 */
const CIRCUIT_SUCCESS = `${CIRCUIT_STATE}
if fail > 0 or openUntil then redis.call('DEL', KEYS[1]) end
return { now, code }
`;

/**
 * A connection failure or 5xx: count it while closed and open at the threshold; a failure while
 * half-open opens again; while open nothing changes (answers to earlier requests do not extend the
 * cool-down). `opened` is 1 for the one call that opened the circuit (the node that emits the event).
 * KEYS[1] circuit (hash)
 * ARGV[1] failure threshold, ARGV[2] cool-down ms, ARGV[3] idle ttl ms
 * Reply: { now ms, state after, until ms (0 while closed), opened 0/1, failures }
 */
const CIRCUIT_FAILURE = `${CIRCUIT_STATE}
local threshold, coolDown, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if code == 1 then return { now, 1, openUntil, 0, fail } end
if code == 0 then fail = fail + 1 end
if code == 2 or fail >= threshold then
  openUntil = now + coolDown
  redis.call('HSET', KEYS[1], 'fail', fail, 'until', fmt(openUntil))
  redis.call('HDEL', KEYS[1], 'probe')
  redis.call('PEXPIRE', KEYS[1], ttl + coolDown)
  return { now, 1, openUntil, 1, fail }
end
redis.call('HSET', KEYS[1], 'fail', fail)
redis.call('PEXPIRE', KEYS[1], ttl)
return { now, 0, 0, 0, fail }
`;

/**
 * A tenant waiting for its turn at a domain that has not asked for this long has stopped waiting
 * (a waiting node asks again every few tens of milliseconds).
 */
const TURN_STALE_MS = 250;
/** A domain nobody asked for this long leaves the list of the cluster's domains. */
const ACTIVE_FOR_MS = 3_600_000;

/**
 * Permits for deliveries to one domain on behalf of one tenant, every check in one step. A permit
 * is one slot id held at once in the domain's, the tenant's and the global scope (the last two only
 * when they have a limit), so releasing or renewing it touches each scope the same way. In order:
 * the domain's Retry-After pause; its circuit (open: nothing; half-open: one permit, the probe,
 * unless another caller's probe is out); free slots of the domain, its limit being min(configured,
 * AIMD effective), less one for each tenant that has waited for the domain longer than this one
 * (tenants refused for the domain's concurrency take turns, whichever nodes they ask from); the
 * tenant's and the global scope; then GCRA cells for as many as that allows. Nothing is written
 * unless something is granted, except a refused tenant's place in the line.
 * KEYS[1] domain slots, KEYS[2] slot id sequence, KEYS[3] pause, KEYS[4] circuit, KEYS[5] aimd,
 * KEYS[6] domain gcra, KEYS[7] tenant slots, KEYS[8] global slots, KEYS[9] tenants waiting
 * (sorted set: tenant → since), KEYS[10] their last ask (tenant → ms), KEYS[11] the cluster's
 * domains (domain → last ask, ms)
 * ARGV[1] node, ARGV[2] n, ARGV[3] leaseMs, ARGV[4] domain concurrency, ARGV[5] rate per second
 * ('' none), ARGV[6] burst, ARGV[7] tenant concurrency ('' none), ARGV[8] global concurrency
 * ('' none), ARGV[9] probe lease ms, ARGV[10] tenant, ARGV[11] domain
 * Reply: { now ms, granted, why, until ms, effective, circuit failures, probe 0/1, id... } where
 * `why` names what held the grant back when it is 0: 1 pause, 2 circuit, 3 domain concurrency,
 * 4 tenant, 5 global, 6 rate; `until` is when to ask again for 1, 2 and 6, and, with a rate, when
 * its next cell conforms (0 otherwise).
 */
const ACQUIRE = `${GCRA}${AIMD_READ}
local nowUs = now_us()
local now = math.floor(nowUs / 1000)
local n, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
-- The cluster's domains, by when they were last asked for (what stats on any node list).
redis.call('ZADD', KEYS[11], fmt(now), ARGV[11])
redis.call('ZREMRANGEBYSCORE', KEYS[11], '-inf', fmt(now - ${ACTIVE_FOR_MS}))
redis.call('PEXPIRE', KEYS[11], ${ACTIVE_FOR_MS})
local paused = tonumber(redis.call('GET', KEYS[3])) or 0
local circuit = redis.call('HMGET', KEYS[4], 'fail', 'until', 'probe')
local failures, openUntil, probe = tonumber(circuit[1]) or 0, tonumber(circuit[2]), tonumber(circuit[3])
if paused > now then return { now, 0, 1, paused, 0, failures, 0 } end
local halfOpen = false
if openUntil then
  if now < openUntil then return { now, 0, 2, openUntil, 0, failures, 0 } end
  if probe and probe > now then return { now, 0, 2, probe, 0, failures, 0 } end
  halfOpen = true
end
local configured = tonumber(ARGV[4])
local effective = aimd_effective(KEYS[5], configured)
-- Turns: tenants refused for the domain's concurrency wait in order, and a free place goes to the
-- one that has waited longest; a tenant that stopped asking leaves the line.
local tenant = ARGV[10]
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[10], '-inf', fmt(now - ${TURN_STALE_MS}))) do
  redis.call('ZREM', KEYS[9], gone)
  redis.call('ZREM', KEYS[10], gone)
end
local since = redis.call('ZSCORE', KEYS[9], tenant)
local ahead
if since then ahead = redis.call('ZCOUNT', KEYS[9], '-inf', '(' .. since) else ahead = redis.call('ZCARD', KEYS[9]) end
local grant, why = math.min(n, effective - live_slots(KEYS[1], now) - ahead), 3
if grant <= 0 then
  if not since then redis.call('ZADD', KEYS[9], fmt(now), tenant) end
  redis.call('ZADD', KEYS[10], fmt(now), tenant)
  redis.call('PEXPIRE', KEYS[9], 60000)
  redis.call('PEXPIRE', KEYS[10], 60000)
  return { now, 0, 3, 0, effective, failures, 0 }
end
if ARGV[7] ~= '' then
  local room = tonumber(ARGV[7]) - live_slots(KEYS[7], now)
  if room < grant then grant, why = room, 4 end
end
if ARGV[8] ~= '' then
  local room = tonumber(ARGV[8]) - live_slots(KEYS[8], now)
  if room < grant then grant, why = room, 5 end
end
if halfOpen and grant > 1 then grant = 1 end
local untilAt = 0
if grant > 0 and ARGV[5] ~= '' then
  local cells, nextAt = gcra_take(KEYS[6], ARGV[5], ARGV[6], grant, nowUs)
  if cells == 0 then why = 6 end
  if nextAt > nowUs then untilAt = math.ceil(nextAt / 1000) end
  grant = cells
end
if grant <= 0 then return { now, 0, why, untilAt, effective, failures, 0 } end
if halfOpen then redis.call('HSET', KEYS[4], 'probe', fmt(now + tonumber(ARGV[9]))) end
if since then
  redis.call('ZREM', KEYS[9], tenant)
  redis.call('ZREM', KEYS[10], tenant)
end
local ids = new_slot_ids(KEYS[2], ARGV[1], grant)
add_slots(KEYS[1], ids, now, lease)
if ARGV[7] ~= '' then add_slots(KEYS[7], ids, now, lease) end
if ARGV[8] ~= '' then add_slots(KEYS[8], ids, now, lease) end
local reply = { now, grant, 0, untilAt, effective, failures, halfOpen and 1 or 0 }
for _, id in ipairs(ids) do reply[#reply + 1] = id end
return reply
`;

/**
 * Hand permits back: each id leaves every scope given. When tenants are waiting for places at the
 * domain, the domain's name is published, so that their nodes ask again at once.
 * KEYS[1] the domain's tenants waiting (see ACQUIRE), KEYS[2..] slots of each scope the permits
 * were taken in, the domain's first
 * ARGV[1] channel, ARGV[2] domain, ARGV[3..] ids
 * Reply: how many were still held in the domain's scope
 */
const RELEASE_PERMITS = `
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
local released = 0
for k = 2, #KEYS do
  local removed = redis.call('ZREM', KEYS[k], unpack(ids))
  if k == 2 then released = removed end
end
if released > 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return released
`;

/**
 * Extend this node's permits (or slots: a permit of one scope) by leaseMs from now in every scope.
 * A permit of this node missing from any scope (expired) is lost and taken out of all of them: its
 * place may be another's. An id that is not this node's is reported lost and left alone.
 * KEYS[1..] slots of each scope
 * ARGV[1] node, ARGV[2] leaseMs, ARGV[3..] ids
 * Reply: { now ms, lost id... }
 */
const RENEW_PERMITS = `
local now = math.floor(now_us() / 1000)
local lease = tonumber(ARGV[2])
local mine = ARGV[1] .. '|'
for k = 1, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', fmt(now)) end
local expiry = fmt(now + lease)
local reply = { now }
for i = 3, #ARGV do
  local id = ARGV[i]
  local own = string.sub(id, 1, #mine) == mine
  local kept = own
  for k = 1, #KEYS do
    if kept and not redis.call('ZSCORE', KEYS[k], id) then kept = false end
  end
  for k = 1, #KEYS do
    if kept then redis.call('ZADD', KEYS[k], 'XX', expiry, id) elseif own then redis.call('ZREM', KEYS[k], id) end
  end
  if not kept then reply[#reply + 1] = id end
end
for k = 1, #KEYS do
  if redis.call('PTTL', KEYS[k]) < lease then redis.call('PEXPIRE', KEYS[k], lease) end
end
return reply
`;

/**
 * What the cluster's limits say of a domain now, for stats. Read-only.
 * KEYS[1] domain slots, KEYS[2] pause, KEYS[3] circuit, KEYS[4] aimd
 * ARGV[1] configured concurrency
 * Reply: { now ms, slots held, paused until ms (0: not paused), circuit 0/1/2, open until ms, effective }
 */
const VIEW = `${AIMD_READ}
local now = math.floor(now_us() / 1000)
local held = redis.call('ZCOUNT', KEYS[1], '(' .. fmt(now), '+inf')
local paused = tonumber(redis.call('GET', KEYS[2])) or 0
if paused <= now then paused = 0 end
local openUntil = tonumber(redis.call('HGET', KEYS[3], 'until'))
local circuit = 0
if openUntil then
  if now < openUntil then circuit = 1 else circuit = 2 end
end
return { now, held, paused, circuit, openUntil or 0, aimd_effective(KEYS[4], tonumber(ARGV[1])) }
`;

/** A script: its Lua source and how many of its arguments are keys. */
export interface LimitScript {
  readonly name: string;
  /** How many keys it takes; -1: any number of at least one. */
  readonly keys: number;
  readonly lua: string;
}

function script(name: string, keys: number, body: string): LimitScript {
  return { name, keys, lua: `-- sluice ${name}\n${PRELUDE}${body}` };
}

/** Every limit script, by name. */
export const LIMIT_SCRIPTS = {
  takeSlots: script('takeSlots', 2, TAKE_SLOTS),
  releaseNodeSlots: script('releaseNodeSlots', 1, RELEASE_NODE_SLOTS),
  countSlots: script('countSlots', 1, COUNT_SLOTS),
  rateTake: script('rateTake', 1, RATE_TAKE),
  pause: script('pause', 1, PAUSE),
  pausedUntil: script('pausedUntil', 1, PAUSED_UNTIL),
  aimdThrottle: script('aimdThrottle', 1, AIMD_THROTTLE),
  aimdSuccess: script('aimdSuccess', 1, AIMD_SUCCESS),
  aimdEffective: script('aimdEffective', 1, AIMD_EFFECTIVE),
  circuitPass: script('circuitPass', 1, CIRCUIT_PASS),
  circuitSuccess: script('circuitSuccess', 1, CIRCUIT_SUCCESS),
  circuitFailure: script('circuitFailure', 1, CIRCUIT_FAILURE),
  acquire: script('acquire', 11, ACQUIRE),
  releasePermits: script('releasePermits', -1, RELEASE_PERMITS),
  renewPermits: script('renewPermits', -1, RENEW_PERMITS),
  view: script('view', 4, VIEW),
} as const satisfies Record<string, LimitScript>;

export type LimitScriptName = keyof typeof LIMIT_SCRIPTS;
