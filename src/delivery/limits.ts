import type { DomainLimit } from '../config/schema.js';
import { HostRules } from './domain-key.js';

/** The limit that applies to one domain, with the defaults filled in. */
export interface ResolvedLimit {
  concurrency: number;
  ratePerSecond?: number;
  burst: number;
}

/**
 * Domain limits by host key ("api.example.com" or "127.0.0.1:5678"; most specific wins), merged over
 * `limits.defaultDomain`. Live: set/delete take effect on the next dispatch.
 */
export class DomainLimitTable {
  private rules: HostRules<DomainLimit>;

  constructor(
    private defaults: DomainLimit,
    entries: Iterable<[string, DomainLimit]> = [],
  ) {
    this.rules = new HostRules(entries);
  }

  resolve(domainKey: string): ResolvedLimit {
    const rule = this.rules.match(domainKey) ?? {};
    const merged = { ...this.defaults, ...stripUndefined(rule) };
    return {
      concurrency: merged.concurrency ?? 10,
      ...(merged.ratePerSecond === undefined ? {} : { ratePerSecond: merged.ratePerSecond }),
      burst: merged.burst ?? 1,
    };
  }

  set(key: string, limit: DomainLimit): void {
    this.rules.set(key, limit);
  }

  delete(key: string): boolean {
    return this.rules.delete(key);
  }

  /**
   * Replace every rule with these (a key not among them falls back to the defaults). True when that
   * changed any rule. @throws Error when a key is not a valid host key; nothing is changed then.
   */
  replace(entries: Iterable<[string, DomainLimit]>): boolean {
    const fresh = new HostRules(entries);
    const before = [...this.rules.entries()];
    const changed = before.length !== [...fresh.entries()].length || before.some(([key, limit]) => !sameLimit(fresh.get(key), limit));
    this.rules = fresh;
    return changed;
  }

  get(key: string): DomainLimit | undefined {
    return this.rules.get(key);
  }

  entries(): [string, DomainLimit][] {
    return [...this.rules.entries()];
  }

  setDefaults(limit: DomainLimit): void {
    this.defaults = limit;
  }
}

function sameLimit(a: DomainLimit | undefined, b: DomainLimit): boolean {
  return a !== undefined && a.concurrency === b.concurrency && a.ratePerSecond === b.ratePerSecond && a.burst === b.burst;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
