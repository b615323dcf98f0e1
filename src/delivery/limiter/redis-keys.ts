/**
 * Where the shared limits live in Redis. Every key is `sluice:{<prefix>}:v1:<kind>:<name>`:
 * - `{<prefix>}` is a hash tag: every key of one Sluice cluster lands in one Redis Cluster slot, so
 *   a script may touch a domain's and a tenant's keys together (a future combined acquire) and the
 *   whole layout can be listed or deleted by one pattern;
 * - `v1` is the layout's version: a change of layout gets a new one instead of reading old keys
 *   with new meaning.
 */
export const KEY_LAYOUT_VERSION = 1;

/** The kinds of key; `slots` and `rate` take a scope name, the others a domain key (`turns` and `asked`: tenants waiting for the domain). */
export type LimitKeyKind = 'slots' | 'rate' | 'pause' | 'aimd' | 'circuit' | 'turns' | 'asked' | 'active';

/** Builds the keys of one prefix. */
export class RedisLimitKeys {
  /** Everything under this prefix, as a SCAN pattern. */
  readonly pattern: string;
  private readonly base: string;

  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
      throw new Error(`prefix must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', '-', got ${JSON.stringify(prefix)}`);
    }
    this.base = `sluice:{${prefix}}:v${KEY_LAYOUT_VERSION}:`;
    this.pattern = `sluice:{${prefix}}:*`;
  }

  key(kind: LimitKeyKind, name: string): string {
    if (name.length === 0) throw new Error(`a ${kind} key needs a name`);
    return `${this.base}${kind}:${name}`;
  }

  /** The pub/sub channel on which a domain's name is published when a place is freed and tenants wait. */
  freedChannel(): string {
    return `${this.base}freed`;
  }

  /** The counter that numbers slot ids. */
  slotSequence(): string {
    return `${this.base}slot-sequence`;
  }
}
