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
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
local held = redis.call('ZCARD', KEYS[1])
local grant = math.max(0, math.min(n, limit - held))
local reply = { now, held + grant }
if grant == 0 then return reply end
local last = redis.call('INCRBY', KEYS[2], grant)
local expiry = fmt(now + lease)
for i = 1, grant do
  local id = ARGV[1] .. '|' .. string.format('%d', last - grant + i)
  redis.call('ZADD', KEYS[1], expiry, id)
  reply[#reply + 1] = id
end
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return reply
`;

/**
 * Extend this node's leases by `leaseMs` from now. A slot that has expired (or was never this
 * node's) is lost: another node may already hold its place, so it is removed, not revived.
 * KEYS[1] slots
 * ARGV[1] node, ARGV[2] leaseMs, ARGV[3..] slot ids
 * Reply: { now ms, lost id... }
 */
const RENEW_SLOTS = `
local now = math.floor(now_us() / 1000)
local lease = tonumber(ARGV[2])
local mine = ARGV[1] .. '|'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
local expiry = fmt(now + lease)
local reply = { now }
for i = 3, #ARGV do
  local id = ARGV[i]
  if string.sub(id, 1, #mine) == mine and redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], 'XX', expiry, id)
  else
    reply[#reply + 1] = id
  end
end
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
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
 * GCRA, taking up to `n` cells at once: the same algorithm as gcra.ts, with the same anchor +
 * count form (TAT = anchor + count / rate, so it never drifts), in microseconds of Redis TIME.
 * The j-th further cell conforms when anchor + (count + j − burst) / rate ≤ now. Grants therefore
 * satisfy, in every window of W µs, count ≤ burst + floor(W · rate), across every caller.
 * A change of rate or burst carries over what the past owes (as Gcra.reconfigure does).
 * The hash expires when its TAT has passed: an idle limiter forgets its history anyway.
 * KEYS[1] gcra (hash: anchor µs, count, rate, burst)
 * ARGV[1] ratePerSecond, ARGV[2] burst, ARGV[3] n
 * Reply: { now µs, granted, next µs } where next is when one more cell conforms (≤ now: at once)
 */
const RATE_TAKE = `
local now = now_us()
local rate, burst, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'anchor', 'count', 'rate', 'burst')
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
  redis.call('HSET', KEYS[1], 'anchor', fmt(anchor), 'count', fmt(count), 'rate', ARGV[1], 'burst', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((tat - now) / 1000)) + 1000)
end
return { now, granted, math.max(now, nextAt) }
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
const AIMD_EFFECTIVE = `
local now = math.floor(now_us() / 1000)
local configured = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'cur', 'cfg')
local cur, cfg = tonumber(state[1]) or configured, tonumber(state[2]) or configured
if cur >= cfg or cur > configured then cur = configured end
return { now, cur }
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

/** A script: its Lua source and how many of its arguments are keys. */
export interface LimitScript {
  readonly name: string;
  readonly keys: number;
  readonly lua: string;
}

function script(name: string, keys: number, body: string): LimitScript {
  return { name, keys, lua: `-- sluice ${name}\n${PRELUDE}${body}` };
}

/** Every limit script, by name. */
export const LIMIT_SCRIPTS = {
  takeSlots: script('takeSlots', 2, TAKE_SLOTS),
  renewSlots: script('renewSlots', 1, RENEW_SLOTS),
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
} as const satisfies Record<string, LimitScript>;

export type LimitScriptName = keyof typeof LIMIT_SCRIPTS;
