import type { ServerResponse } from 'node:http';
import type { Principal } from '../http/auth.js';
import type { Clock } from '../clock.js';
import { logEntryView, type LogEntry } from './event-log.js';
import { buildStats, canSeeEntry, domainsOfTenant, type StatsDeps } from './stats.js';

/** What the streams read: the stats, and the time. */
export interface StreamDeps extends StatsDeps {
  readonly clock: Clock;
}

const SNAPSHOT_EVERY_MS = 1_000;
/** A comment line now and then keeps proxies from closing a quiet connection. */
const HEARTBEAT_EVERY_MS = 15_000;
/** A client that cannot keep up is dropped rather than buffered without bound. */
const MAX_UNSENT_BYTES = 1024 * 1024;

interface StreamClient {
  res: ServerResponse;
  principal: Principal;
  /** 'admin' or 'tenant:<name>': clients with the same key get the same snapshot. */
  scope: string;
}

/**
 * The live stats streams (Server-Sent Events). One shared timer builds each snapshot once per
 * second per distinct viewer (the admin, or one tenant) and writes it to every stream of that
 * viewer, so a hundred open dashboards cost one snapshot, not a hundred. Events are pushed as they
 * happen: the logged ones (event-log.ts: backpressure, throttled, circuit-open, circuit-closed,
 * dead, shared-limits), each with its `seq` as the frame's id, and those of workflow runs
 * (run-events.ts: run-started, run-step, run-ended). The timer runs only while a stream is open.
 */
export class StatsStreamHub {
  private readonly clients = new Set<StreamClient>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;

  constructor(private readonly app: StreamDeps) {}

  /** Take over the response: SSE headers, a first snapshot at once, then the shared timer. */
  open(res: ServerResponse, principal: Principal): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const client: StreamClient = { res, principal, scope: principal.kind === 'admin' ? 'admin' : `tenant:${principal.tenant}` };
    this.clients.add(client);
    res.once('close', () => this.drop(client));
    this.write(client, `retry: 2000\n\n${this.snapshotFrame(principal)}`);
    this.timer ??= setInterval(() => this.tick(), SNAPSHOT_EVERY_MS);
  }

  /** How many streams are open. */
  get size(): number {
    return this.clients.size;
  }

  /** Send one logged event to every stream allowed to see it. */
  publish(entry: LogEntry): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${entry.type}\nid: ${entry.seq}\ndata: ${JSON.stringify(logEntryView(entry))}\n\n`;
    const tenantDomains = new Map<string, Set<string>>();
    for (const client of this.clients) {
      const { principal } = client;
      let inUse: Set<string> | undefined;
      if (principal.kind === 'tenant' && entry.tenant === undefined) {
        inUse = tenantDomains.get(principal.tenant) ?? domainsOfTenant(this.app, principal.tenant);
        tenantDomains.set(principal.tenant, inUse);
      }
      if (canSeeEntry(this.app, principal, entry, inUse)) this.write(client, frame);
    }
  }

  /**
   * Send an event that is not logged (a workflow run's, see run-events.ts) to the admin's streams
   * and those of `tenant`: it concerns that tenant's own things only. No `id:`: the ids are the
   * log's sequence numbers.
   */
  publishToTenant(type: string, tenant: string, data: object): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) {
      const { principal } = client;
      if (principal.kind === 'admin' || principal.tenant === tenant) this.write(client, frame);
    }
  }

  /** End every stream and stop the timer (shutdown). */
  close(): void {
    for (const client of [...this.clients]) client.res.end();
    this.clients.clear();
    this.stopTimer();
  }

  private tick(): void {
    this.ticks += 1;
    const frames = new Map<string, string>();
    const heartbeat = this.ticks % (HEARTBEAT_EVERY_MS / SNAPSHOT_EVERY_MS) === 0 ? ': heartbeat\n\n' : '';
    for (const client of this.clients) {
      let frame = frames.get(client.scope);
      if (frame === undefined) {
        frame = heartbeat + this.snapshotFrame(client.principal);
        frames.set(client.scope, frame);
      }
      this.write(client, frame);
    }
  }

  private snapshotFrame(principal: Principal): string {
    const now = this.app.clock.now();
    // The housekeeping timer refreshes queue counts every second: the stream never queries the store.
    const snapshot = buildStats(this.app, principal, this.app.queues.latestCounts(), now);
    return `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
  }

  private write(client: StreamClient, frame: string): void {
    if (client.res.writableLength > MAX_UNSENT_BYTES) {
      client.res.destroy();
      return this.drop(client);
    }
    client.res.write(frame);
  }

  private drop(client: StreamClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
