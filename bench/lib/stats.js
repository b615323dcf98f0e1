/** Small statistics helpers for benchmark figures. */

/** The p-th percentile (0-100) of numbers, nearest-rank on a sorted copy. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, p);
}

export function percentileOfSorted(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function max(values) {
  let best = -Infinity;
  for (const value of values) if (value > best) best = value;
  return best;
}

/**
 * Measure a pair (Sluice, its baseline) `rounds` times, alternating, and keep the pair whose ratio
 * is the median: on a shared machine one short run can land in a noisy second, and both sides of a
 * pair measured back to back see the same machine. Returns { sluice, baseline, ratio, ratios }.
 */
export async function medianPair(rounds, measurePair) {
  const pairs = [];
  for (let round = 0; round < rounds; round += 1) {
    const { sluice, baseline } = await measurePair(round);
    pairs.push({ sluice, baseline, ratio: sluice / baseline });
  }
  const sorted = [...pairs].sort((a, b) => a.ratio - b.ratio);
  return { ...sorted[Math.floor(sorted.length / 2)], ratios: pairs.map((pair) => pair.ratio) };
}

/**
 * Of rounds measured alike, the one whose `ratio(round)` is the median, with that ratio and all of
 * them: medianPair for a scenario that draws more than one ratio from each round.
 */
export function medianRound(rounds, ratio) {
  const ratios = rounds.map(ratio);
  const sorted = rounds.map((round, i) => ({ round, r: ratios[i] })).sort((a, b) => a.r - b.r);
  const { round, r } = sorted[Math.floor(sorted.length / 2)];
  return { round, ratio: r, ratios };
}

/** The ratios of medianPair's rounds, for a log line or a note: "0.61, 0.86, 0.79". */
export function fmtRatios(ratios) {
  return ratios.map((ratio) => fmt(ratio, 2)).join(', ');
}

/** Steady throughput seen at a sink: (n − 1) intervals between the first and last arrival. */
export function arrivalRate(times) {
  if (times.length < 2) return 0;
  let first = Infinity;
  let last = -Infinity;
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return ((times.length - 1) * 1000) / (last - first);
}

/** Format a number for the report: thousands separators, `digits` decimals. */
export function fmt(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
