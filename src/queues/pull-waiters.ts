/**
 * Long-poll waiters per queue. A consumer with nothing to lease parks here until a commit, a
 * nack, a lease expiry or a due message makes the queue ready — or until its wait runs out.
 * No database polling: whoever makes messages ready calls notify().
 */
export class PullWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  /** Hears every notify(): on a cluster, the other nodes' consumers are told too. */
  relay: (queue: string) => void = () => {};

  /** Resolves true when notified, false on timeout or abort. */
  wait(queue: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let set = this.waiting.get(queue);
      if (!set) this.waiting.set(queue, (set = new Set()));
      const waiters = set;
      const finish = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(wake);
        if (waiters.size === 0 && this.waiting.get(queue) === waiters) this.waiting.delete(queue);
        resolve(notified);
      };
      const wake = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(wake);
    });
  }

  /** Wake every consumer waiting on the queue, here and (through relay) on the other nodes. */
  notify(queue: string): void {
    this.notifyHere(queue);
    this.relay(queue);
  }

  /** Wake the consumers waiting on this node; they race to lease, losers wait again. */
  notifyHere(queue: string): void {
    const waiters = this.waiting.get(queue);
    if (!waiters) return;
    for (const wake of [...waiters]) wake();
  }

  count(queue?: string): number {
    if (queue !== undefined) return this.waiting.get(queue)?.size ?? 0;
    let total = 0;
    for (const set of this.waiting.values()) total += set.size;
    return total;
  }

  /** Queues someone waits on here. */
  queues(): string[] {
    return [...this.waiting.keys()];
  }

  /** Release everyone here (shutdown, or a look at everything again). */
  wakeAll(): void {
    for (const queue of [...this.waiting.keys()]) this.notifyHere(queue);
  }
}
