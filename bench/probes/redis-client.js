/**
 * Probe: which Redis client carries the shared limits (src/delivery/limiter/redis-limits.ts) at the
 * lower cost. The limits call small Lua scripts by SHA, many at once from the dispatcher's pump, and
 * batch them where one pump turn asks for several domains. So this measures, for `ioredis` and for
 * `redis` (node-redis), against the same server in the same run:
 * - evalsha ×50: EVALSHA of a small script (TIME + INCRBY + PEXPIRE, about what a limit script does
 *   per call) from 50 concurrent callers, each awaiting its answer before the next call;
 * - pipeline ×20: batches of 20 EVALSHA sent as one pipeline (ioredis `pipeline().exec()`, node-redis
 *   `multi().execAsPipeline()`), from 5 concurrent callers;
 * - same tick ×20: the same batches as 20 plain calls issued in one tick and awaited together
 *   (`Promise.all`), which is how RedisLimits' `*Many` methods send them.
 * ioredis is also measured with `enableAutoPipelining` (node-redis pipelines what is written in one
 * tick by default; ioredis does not unless asked).
 * Each figure is calls per second and this process's CPU (process.cpuUsage, user + system) per
 * 10,000 calls. Clients are measured alternately, in a rotated order, `rounds` times after one warm-up
 * round; the median of each is shown with every round's figure. Load average before and after.
 * Keys live under `sluice-probe:{<pid>}:` and are deleted at the end.
 *
 * Results (December 2026, 2 cores shared with other work, Redis 7.0 on the same machine; median
 * calls/s and client CPU ms per 10,000 calls; the first two runs had no "same tick" mode yet):
 *                          load   evalsha ×50       pipeline ×20      same tick ×20
 *   node-redis             4.4   118,800 /  38     116,100 /  38
 *   ioredis                4.4    49,500 / 113      48,700 / 103
 *   ioredis autoPipelining 4.4    38,500 /  98      71,700 /  88
 *   node-redis             0.8    99,000 /  48      95,100 /  53     104,200 /  34
 *   ioredis                0.8    68,000 / 145     115,500 /  79      53,900 / 186
 *   ioredis autoPipelining 0.8    76,300 / 106     114,200 /  75      74,000 / 109
 *   node-redis (5 rounds)  1.1    79,900 /  56      87,600 /  47      95,600 /  43
 *   ioredis                1.1    52,100 / 187      82,200 / 127      57,000 / 175
 *   ioredis autoPipelining 1.1    51,100 / 129      86,800 / 141      58,500 / 113
 * So Sluice depends on `redis` (node-redis): it uses a third to two thirds of ioredis's CPU in every
 * mode and run, is 1.3-2.4× faster for EVALSHA from concurrent callers and for calls sent in one
 * tick (how RedisLimits batches), and ties with ioredis's explicit pipelines (within run-to-run
 * noise). ioredis is not a dependency; to measure it again, `npm install --no-save ioredis` first,
 * else this probe measures node-redis alone and says so.
 * Usage: node bench/probes/redis-client.js [rounds, default 3]
 * (SLUICE_TEST_REDIS_URL, default redis://127.0.0.1:6379).
 */
import { loadavg } from 'node:os';
import { createClient } from 'redis';
import { fmt } from '../lib/stats.js';

const REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = Number(process.argv[2] ?? 3);
const PREFIX = `sluice-probe:{${process.pid}}:`;
const CALLERS = 50;
const CALLS_PER_CALLER = 400;
const BATCH = 20;
const BATCH_CALLERS = 5;
const BATCHES_PER_CALLER = 200;
const KEYS = 10;

const SCRIPT = `
local t = redis.call('TIME')
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 60000)
return {v, tonumber(t[1])}
`;

const keyOf = (i) => `${PREFIX}k${i % KEYS}`;

/** The same four operations over each client, so the measuring code is shared. */
/** ioredis when it is installed (not a dependency of Sluice: see above), else undefined. */
const Redis = await import('ioredis').then((module) => module.Redis, () => undefined);

function ioredisAdapter(options = {}) {
  const client = new Redis(REDIS_URL, { lazyConnect: true, ...options });
  let sha = '';
  return {
    async open() {
      await client.connect();
      sha = await client.script('LOAD', SCRIPT);
    },
    call: (i) => client.evalsha(sha, 1, keyOf(i), '1'),
    together: (i) => Promise.all(Array.from({ length: BATCH }, (_, j) => client.evalsha(sha, 1, keyOf(i + j), '1'))),
    batch: (i) => {
      const pipeline = client.pipeline();
      for (let j = 0; j < BATCH; j += 1) pipeline.evalsha(sha, 1, keyOf(i + j), '1');
      return pipeline.exec();
    },
    close: () => client.quit(),
  };
}

function nodeRedisAdapter() {
  const client = createClient({ url: REDIS_URL });
  let sha = '';
  return {
    async open() {
      await client.connect();
      sha = await client.scriptLoad(SCRIPT);
    },
    call: (i) => client.evalSha(sha, { keys: [keyOf(i)], arguments: ['1'] }),
    together: (i) => Promise.all(Array.from({ length: BATCH }, (_, j) => client.evalSha(sha, { keys: [keyOf(i + j)], arguments: ['1'] }))),
    batch: (i) => {
      const multi = client.multi();
      for (let j = 0; j < BATCH; j += 1) multi.evalSha(sha, { keys: [keyOf(i + j)], arguments: ['1'] });
      return multi.execAsPipeline();
    },
    close: () => client.quit(),
  };
}

/** Calls per second and client CPU ms per 10,000 calls of `work`, which makes `calls` calls. */
async function timed(calls, work) {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { perSecond: calls / seconds, cpuMsPer10k: ((used.user + used.system) / 1000) * (10_000 / calls) };
}

function concurrentCalls(client) {
  return timed(CALLERS * CALLS_PER_CALLER, () =>
    Promise.all(Array.from({ length: CALLERS }, async (_, caller) => {
      for (let i = 0; i < CALLS_PER_CALLER; i += 1) await client.call(caller + i);
    })),
  );
}

function batches(send) {
  return timed(BATCH_CALLERS * BATCHES_PER_CALLER * BATCH, () =>
    Promise.all(Array.from({ length: BATCH_CALLERS }, async (_, caller) => {
      for (let i = 0; i < BATCHES_PER_CALLER; i += 1) await send(caller + i);
    })),
  );
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const clients = { 'redis (node-redis)': nodeRedisAdapter() };
  if (Redis) {
    clients.ioredis = ioredisAdapter();
    clients['ioredis (autoPipelining)'] = ioredisAdapter({ enableAutoPipelining: true });
  } else {
    console.log('ioredis is not installed (npm install --no-save ioredis to compare): node-redis alone');
  }
  const cleaner = createClient({ url: REDIS_URL });
  try {
    await Promise.all([...Object.values(clients).map((client) => client.open()), cleaner.connect()]);
  } catch (error) {
    console.log(`redis-client probe skipped: Redis not reachable at ${REDIS_URL} (${error.message})`);
    await Promise.allSettled([...Object.values(clients).map((client) => client.close()), cleaner.quit()]);
    return;
  }
  const loadBefore = loadavg();
  const names = Object.keys(clients);
  const results = Object.fromEntries(names.map((name) => [name, { evalsha: [], pipeline: [], together: [] }]));
  try {
    for (let round = 0; round <= ROUNDS; round += 1) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        const evalsha = await concurrentCalls(clients[name]);
        const pipeline = await batches(clients[name].batch);
        const together = await batches(clients[name].together);
        if (round === 0) continue; // warm-up: JIT and connection buffers
        results[name].evalsha.push(evalsha);
        results[name].pipeline.push(pipeline);
        results[name].together.push(together);
      }
    }
  } finally {
    await cleanup(cleaner);
    await Promise.allSettled([...Object.values(clients).map((client) => client.close()), cleaner.quit()]);
  }
  report(results, loadBefore, loadavg());
}

async function cleanup(client) {
  for await (const keys of client.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) {
    if (keys.length > 0) await client.unlink(keys);
  }
}

function report(results, loadBefore, loadAfter) {
  const line = (runs) => {
    const rate = median(runs.map((run) => run.perSecond));
    const cpu = median(runs.map((run) => run.cpuMsPer10k));
    const rounds = runs.map((run) => fmt(run.perSecond, 0)).join(', ');
    return `${fmt(rate, 0).padStart(8)} calls/s  ${fmt(cpu, 0).padStart(5)} ms CPU/10k  (rounds: ${rounds})`;
  };
  console.log(`Redis client probe, ${ROUNDS} rounds, median; load average before ${loadBefore.map((n) => n.toFixed(2)).join(' ')}, after ${loadAfter.map((n) => n.toFixed(2)).join(' ')}`);
  for (const [name, runs] of Object.entries(results)) {
    console.log(`${name}`);
    console.log(`  evalsha ×${CALLERS} callers:        ${line(runs.evalsha)}`);
    console.log(`  pipeline ×${BATCH}, ${BATCH_CALLERS} callers:    ${line(runs.pipeline)}`);
    console.log(`  same tick ×${BATCH}, ${BATCH_CALLERS} callers:   ${line(runs.together)}`);
  }
}

await main();
