import { describe, expect, it } from 'vitest';
import { DomainLabels, MAX_DOMAIN_LABELS, OTHER_DOMAIN } from '../../src/observe/metrics.js';
import { EventLog, EVENT_LOG_SIZE } from '../../src/observe/event-log.js';
import { bucketOf, emptyTotals, LatencyWindow, percentilesOf, RateWindow, valueOf } from '../../src/observe/windows.js';

describe('RateWindow', () => {
  it('averages the last 10 complete seconds and forgets older ones', () => {
    const rate = new RateWindow();
    const start = 1_000_000;
    for (let second = 0; second < 20; second += 1) rate.add(start + second * 1000 + 500, second < 10 ? 1 : 3);
    // at second 20: complete seconds 10..19 each hold 3
    expect(rate.total(start + 20_000)).toBe(30);
    // the current, partial second is not counted
    rate.add(start + 20_100, 100);
    expect(rate.total(start + 20_200)).toBe(30);
    expect(rate.total(start + 60_000)).toBe(0);
    expect(rate.isEmpty(start + 60_000)).toBe(true);
  });
});

describe('LatencyWindow', () => {
  it('reports percentiles within a bucket width and counts outcomes over the last minute', () => {
    const window = new LatencyWindow();
    const now = 5_000_000;
    for (let i = 1; i <= 100; i += 1) window.record(now, i * 10, i % 10 !== 0);
    const totals = emptyTotals();
    window.addTo(totals, now + 1_000);
    expect(totals.ok).toBe(90);
    expect(totals.failed).toBe(10);
    const p = percentilesOf(totals)!;
    // true values: p50 500 ms, p95 950 ms, p99 990 ms; buckets are 2^(1/4) wide (≈ ±10 %)
    expect(p.p50).toBeGreaterThan(500 * 0.88);
    expect(p.p50).toBeLessThan(500 * 1.12);
    expect(p.p95).toBeGreaterThan(950 * 0.88);
    expect(p.p99).toBeLessThan(990 * 1.12);
    const later = emptyTotals();
    window.addTo(later, now + 70_000);
    expect(later.ok + later.failed).toBe(0);
    expect(percentilesOf(later)).toBeNull();
    expect(window.isEmpty(now + 70_000)).toBe(true);
  });

  it('maps latencies to monotone buckets', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(0.5)).toBe(0);
    expect(bucketOf(Number.NaN)).toBe(0);
    expect(bucketOf(2)).toBe(4);
    expect(bucketOf(1e12)).toBe(80);
    for (const ms of [3, 17, 250, 4_000]) {
      const value = valueOf(bucketOf(ms));
      expect(value / ms).toBeGreaterThan(0.84);
      expect(value / ms).toBeLessThan(1.19);
    }
  });
});

describe('DomainLabels', () => {
  it('gives the first N domains their own label for good, then folds the rest into other', () => {
    const labels = new DomainLabels();
    for (let i = 0; i < MAX_DOMAIN_LABELS; i += 1) expect(labels.labelFor(`d${i}.example`)).toBe(`d${i}.example`);
    expect(labels.labelFor('late.example')).toBe(OTHER_DOMAIN);
    expect(labels.labelFor('d0.example')).toBe('d0.example');
    expect(labels.labelFor('late.example')).toBe(OTHER_DOMAIN);
  });
});

describe('EventLog', () => {
  it('keeps only the last entries, newest first, filtered', () => {
    const log = new EventLog();
    for (let i = 0; i < EVENT_LOG_SIZE + 50; i += 1) log.add(i, 'backpressure', { i }, `d${i % 2}`, undefined);
    const recent = log.recent(1_000);
    expect(recent).toHaveLength(EVENT_LOG_SIZE);
    expect(recent[0]!.data).toEqual({ i: EVENT_LOG_SIZE + 49 });
    expect(recent.at(-1)!.data).toEqual({ i: 50 });
    const odd = log.recent(3, (entry) => entry.domain === 'd1');
    expect(odd.map((entry) => (entry.data as { i: number }).i)).toEqual([EVENT_LOG_SIZE + 49, EVENT_LOG_SIZE + 47, EVENT_LOG_SIZE + 45]);
  });
});
