/**
 * Small rolling windows for live statistics. Both record in O(1) with no allocation on the
 * delivery path, forget old data by overwriting slots (no timers), and can be merged, so a
 * domain's figures are the sum of its per-tenant windows.
 */

/** Seconds averaged for the observed rate. */
export const RATE_WINDOW_SECONDS = 10;
/** Width of one latency slot; LATENCY_SLOTS of them make the latency window. */
const LATENCY_SLOT_MS = 10_000;
const LATENCY_SLOTS = 6;
/** Latency window length: percentiles and counts cover this much recent time. */
export const LATENCY_WINDOW_MS = LATENCY_SLOT_MS * LATENCY_SLOTS;
/** Four histogram buckets per doubling: a reported percentile is within ~9 % of the truth. */
const BUCKETS_PER_DOUBLING = 4;
/** 2^(80/4) ms ≈ 17 minutes: anything slower lands in the last bucket. */
const MAX_BUCKET = 80;

/**
 * Events per second over the last RATE_WINDOW_SECONDS complete seconds. The current, partial
 * second is left out so the figure does not sag at the start of every second.
 */
export class RateWindow {
  private readonly counts = new Float64Array(RATE_WINDOW_SECONDS + 1);
  private readonly stamps = new Float64Array(RATE_WINDOW_SECONDS + 1).fill(-1);

  add(now: number, n = 1): void {
    const second = Math.floor(now / 1000);
    const slot = second % this.counts.length;
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += n;
  }

  /** Sum of the complete seconds in the window (divide by RATE_WINDOW_SECONDS for a rate). */
  total(now: number): number {
    const current = Math.floor(now / 1000);
    let sum = 0;
    for (let slot = 0; slot < this.counts.length; slot += 1) {
      const stamp = this.stamps[slot]!;
      if (stamp < current && stamp >= current - RATE_WINDOW_SECONDS) sum += this.counts[slot]!;
    }
    return sum;
  }

  /** True when nothing was recorded in the window: the owner may be forgotten. */
  isEmpty(now: number): boolean {
    return this.total(now) === 0 && !this.stamps.includes(Math.floor(now / 1000));
  }
}

interface LatencySlot {
  start: number;
  ok: number;
  failed: number;
  /** Sparse log histogram: bucket index → count. Latencies to one host cluster in a few buckets. */
  buckets: Map<number, number>;
}

/** Accumulates several LatencyWindows (a domain over all its tenants) before percentiles are read. */
export interface LatencyTotals {
  ok: number;
  failed: number;
  buckets: Map<number, number>;
}

/** Latency percentiles over the last minute. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** Outcome counts and latency histogram of the last LATENCY_WINDOW_MS, in 10-second slots. */
export class LatencyWindow {
  private readonly slots: (LatencySlot | undefined)[] = new Array(LATENCY_SLOTS);

  record(now: number, latencyMs: number, ok: boolean): void {
    const slot = this.slotAt(now);
    if (ok) slot.ok += 1;
    else slot.failed += 1;
    const bucket = bucketOf(latencyMs);
    slot.buckets.set(bucket, (slot.buckets.get(bucket) ?? 0) + 1);
  }

  /** Add this window's live slots into `into`. */
  addTo(into: LatencyTotals, now: number): void {
    for (const slot of this.slots) {
      if (!slot || !isLive(slot, now)) continue;
      into.ok += slot.ok;
      into.failed += slot.failed;
      for (const [bucket, count] of slot.buckets) into.buckets.set(bucket, (into.buckets.get(bucket) ?? 0) + count);
    }
  }

  isEmpty(now: number): boolean {
    return !this.slots.some((slot) => slot !== undefined && isLive(slot, now));
  }

  private slotAt(now: number): LatencySlot {
    const start = Math.floor(now / LATENCY_SLOT_MS) * LATENCY_SLOT_MS;
    const index = (start / LATENCY_SLOT_MS) % LATENCY_SLOTS;
    let slot = this.slots[index];
    if (!slot || slot.start !== start) {
      slot = { start, ok: 0, failed: 0, buckets: new Map() };
      this.slots[index] = slot;
    }
    return slot;
  }
}

/** An empty accumulator for LatencyWindow.addTo. */
export function emptyTotals(): LatencyTotals {
  return { ok: 0, failed: 0, buckets: new Map() };
}

/** p50/p95/p99 of the accumulated histogram, in ms (null when nothing was recorded). */
export function percentilesOf(totals: LatencyTotals): Percentiles | null {
  const count = totals.ok + totals.failed;
  if (count === 0) return null;
  const sorted = [...totals.buckets].sort((a, b) => a[0] - b[0]);
  return { p50: quantile(sorted, count, 0.5), p95: quantile(sorted, count, 0.95), p99: quantile(sorted, count, 0.99) };
}

function quantile(sorted: [number, number][], count: number, q: number): number {
  const rank = Math.ceil(q * count);
  let seen = 0;
  for (const [bucket, n] of sorted) {
    seen += n;
    if (seen >= rank) return valueOf(bucket);
  }
  return valueOf(sorted.at(-1)![0]);
}

function isLive(slot: LatencySlot, now: number): boolean {
  return slot.start > now - LATENCY_WINDOW_MS;
}

/** Bucket i holds latencies in (2^((i-1)/4), 2^(i/4)] ms; bucket 0 everything up to 1 ms. */
export function bucketOf(latencyMs: number): number {
  if (!(latencyMs > 1)) return 0;
  return Math.min(MAX_BUCKET, Math.ceil(Math.log2(latencyMs) * BUCKETS_PER_DOUBLING));
}

/** The value reported for a bucket: the geometric middle of its range, rounded to 0.1 ms. */
export function valueOf(bucket: number): number {
  if (bucket === 0) return 1;
  return Math.round(2 ** ((bucket - 0.5) / BUCKETS_PER_DOUBLING) * 10) / 10;
}
