/**
 * The routing scenarios' measure: one Sluice with two sources, a routed one and a plain one, each
 * loaded in turn by the ingest scenario's load generator (autocannon on 127.0.0.1) with the same
 * body and headers. Each round starts a fresh Sluice and warms both sources, then loads them in
 * short alternating slices (plain, routed, routed, plain, …): on a shared 2-core machine another
 * process's burst lasts seconds, and one long block per source let it land on one side only
 * (ratios of one source pair moved 0.43-0.77 between rounds). The round whose ratio (routed ÷ plain)
 * is the median is reported, as medianPair does for the other scenarios.
 */
import autocannon from 'autocannon';
import { withSluice } from './push.js';
import { medianRound } from './stats.js';

/** POST `body` to `url` for `seconds`; { rps, accepted, p99, non2xx, errors }. */
export async function postLoad(url, { body, headers, connections, seconds }) {
  const result = await autocannon({ url, method: 'POST', connections, duration: seconds, headers, body });
  return {
    rps: result['2xx'] / seconds,
    accepted: result['2xx'],
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** One request first, so that a source Sluice cannot route fails with its answer, not a rate of 0. */
async function probe(sluice, source, body, headers) {
  const response = await sluice.pool.request({ method: 'POST', path: `/in/${source}`, headers, body });
  const text = await response.body.text();
  if (response.statusCode < 200 || response.statusCode > 299) throw new Error(`/in/${source} answered ${response.statusCode}: ${text.slice(0, 300)}`);
}

/** Messages stored in `queue`, whatever their state. */
async function storedIn(sluice, queue) {
  const view = await sluice.apiOk('GET', `/v1/queues/${queue}`);
  return Object.values(view.depth ?? {}).reduce((sum, n) => sum + n, 0);
}

/**
 * Measure `routed` against `plain` (source names in `config`) over `rounds` fresh Sluices, each
 * source loaded `slices` times for `sliceSeconds`. `queues` maps each queue whose stored count a
 * round reads after its load to the source that feeds it. Returns { round, ratio, ratios }
 * (medianRound) and every round as `rounds`; a round is { routed, plain, accepted, loads, stored },
 * where routed and plain sum their slices (p99: the median slice's).
 */
export async function measureSourcePair({ config, routed, plain, queues, body, headers, connections, slices, sliceSeconds, warmupSeconds, rounds }) {
  const results = [];
  for (let index = 0; index < rounds; index += 1) {
    results.push(
      await withSluice(config, async (sluice) => {
        const accepted = { [routed]: 0, [plain]: 0 };
        const load = async (source, seconds) => {
          const result = await postLoad(`${sluice.url}/in/${source}`, { body, headers, connections, seconds });
          accepted[source] += result.accepted;
          return result;
        };
        for (const source of [routed, plain]) {
          await probe(sluice, source, body, headers);
          accepted[source] += 1;
          await load(source, warmupSeconds);
        }
        const measured = { [routed]: [], [plain]: [] };
        for (let slice = 0; slice < slices; slice += 1) {
          for (const source of (slice + index) % 2 === 0 ? [plain, routed] : [routed, plain]) measured[source].push(await load(source, sliceSeconds));
        }
        const stored = {};
        for (const queue of Object.keys(queues)) stored[queue] = await storedIn(sluice, queue);
        return { routed: sum(measured[routed], sliceSeconds), plain: sum(measured[plain], sliceSeconds), accepted, loads: slices + 1, stored };
      }),
    );
  }
  return { ...medianRound(results, (result) => result.routed.rps / result.plain.rps), rounds: results };
}

/** Slices of one source as one measure: 2xx over the time of all, p99 of the median slice. */
function sum(results, sliceSeconds) {
  const p99s = results.map((result) => result.p99).sort((a, b) => a - b);
  return {
    rps: results.reduce((total, result) => total + result.accepted, 0) / (results.length * sliceSeconds),
    p99: p99s[Math.floor(p99s.length / 2)],
    non2xx: results.reduce((total, result) => total + result.non2xx, 0),
    errors: results.reduce((total, result) => total + result.errors, 0),
  };
}

/**
 * Whether every queue of `queues` ({ queue: source }) stored what its source accepted, in every
 * round: all its 2xx, and beyond them at most the requests in flight when a load stopped (autocannon
 * stops counting at its deadline with one request per connection unanswered, which Sluice still
 * commits). Queues fed by one source must hold the same count: no request fanned out in part.
 */
export function everyAcceptedStored(rounds, queues, connections) {
  return rounds.every((round) => {
    const bySource = new Map();
    for (const [queue, source] of Object.entries(queues)) {
      const stored = round.stored[queue];
      if (stored < round.accepted[source] || stored > round.accepted[source] + connections * round.loads) return false;
      if (bySource.has(source) && bySource.get(source) !== stored) return false;
      bySource.set(source, stored);
    }
    return true;
  });
}
