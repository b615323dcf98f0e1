/** Event types kept in the recent log and sent on the live stream. */
export type LogEventType = 'backpressure' | 'throttled' | 'circuit-open' | 'circuit-closed' | 'dead' | 'shared-limits';

/** One remembered event. */
export interface LogEntry {
  /** Increases by one per entry, so a client can tell what it has already seen. */
  seq: number;
  at: number;
  type: LogEventType;
  /** The domain it concerns, when it concerns one. */
  domain: string | undefined;
  /** The tenant it concerns; undefined for events about a whole domain. */
  tenant: string | undefined;
  data: object;
}

/** How many events the log keeps. */
export const EVENT_LOG_SIZE = 200;

/** A ring buffer of the last EVENT_LOG_SIZE events: fixed memory whatever the event rate. */
export class EventLog {
  private readonly entries: (LogEntry | undefined)[] = new Array(EVENT_LOG_SIZE);
  private seq = 0;

  add(at: number, type: LogEventType, data: object, domain: string | undefined, tenant: string | undefined): LogEntry {
    this.seq += 1;
    const entry: LogEntry = { seq: this.seq, at, type, domain, tenant, data };
    this.entries[this.seq % EVENT_LOG_SIZE] = entry;
    return entry;
  }

  /** The last `limit` entries that pass `visible`, newest first. */
  recent(limit: number, visible: (entry: LogEntry) => boolean = () => true): LogEntry[] {
    const found: LogEntry[] = [];
    for (let seq = this.seq; seq > this.seq - EVENT_LOG_SIZE && seq > 0 && found.length < limit; seq -= 1) {
      const entry = this.entries[seq % EVENT_LOG_SIZE];
      if (entry && visible(entry)) found.push(entry);
    }
    return found;
  }
}

/** The JSON form of an entry, as /v1/stats and the stream send it. */
export function logEntryView(entry: LogEntry): Record<string, unknown> {
  return { seq: entry.seq, at: new Date(entry.at).toISOString(), type: entry.type, ...entry.data };
}
