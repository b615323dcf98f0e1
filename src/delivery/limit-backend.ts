import type { Verdict } from './attempt.js';
import type { DomainState } from './domain-state.js';
import type { PermitScopes } from './limiter/redis-limits.js';

/** The right to one delivery granted by limits shared with other nodes: given back at its end. */
export interface Permit {
  scopes: PermitScopes;
  id: string;
}

/**
 * Where the dispatcher gets the right to start a delivery. Every check that is this node's own
 * (its DomainState: Retry-After pause, circuit, AIMD, in flight; tenant and global counts) runs in
 * the dispatcher first; a backend adds what the limits need beyond them.
 * - In process (one node, or several with limits.perNode): nothing more. The domain's own GCRA
 *   is the rate, and nothing leaves memory.
 * - Shared through Redis (SharedLimitBackend): each delivery also needs a permit that Redis
 *   granted for the domain and tenant, asked for in batches after each pass over a domain.
 */
export interface LimitBackend {
  /** The domain's own GCRA applies (false: the rate is granted by the backend with each permit). */
  readonly localRate: boolean;
  /** May a delivery to `domain` for `tenant` start now without asking anyone? */
  has(domain: DomainState, tenant: string): boolean;
  /** Take the right to one delivery now: the permit to give back at its end, if there is one. */
  take(domain: DomainState, tenant: string, now: number): Permit | undefined;
  /** After a pass over `domain`: tenants with ready messages and no right left ask for more. */
  replenish(domain: DomainState, now: number): void;
  /**
   * A delivery ended: its permit goes back, and what its outcome says of the domain (undefined:
   * aborted at shutdown, nothing) is passed on to the other nodes.
   */
  end(domain: DomainState, permit: Permit | undefined, verdict: Verdict | undefined, now: number): void;
}

/** One node's limits, all in memory: the fast path. */
export const inProcessLimits: LimitBackend = {
  localRate: true,
  has: () => true,
  take(domain, _tenant, now) {
    domain.gcra?.tryTake(now);
    return undefined;
  },
  replenish() {},
  end() {},
};
