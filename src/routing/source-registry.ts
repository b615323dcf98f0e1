import type { SourceConfig } from '../config/schema.js';
import { routeLabel } from './routes.js';

/** A source as ingest finds it: its definition, its owner, and where it was defined. */
export interface SourceEntry {
  name: string;
  /** Owner: a source made through the API belongs to the tenant that made it; sluice.yaml's to `default`. */
  tenant: string;
  config: SourceConfig;
  /** Defined in sluice.yaml (false: made through the API and kept in storage). */
  fromFile: boolean;
}

/** Requests routed since the node started, for one source: per route label, to the fallback, and unrouted. */
export interface SourceCounts {
  routes: Record<string, number>;
  fallback: number;
  unrouted: number;
}

/**
 * The sources this node answers at /in/{name}: those of sluice.yaml, and those made through the API.
 * Ingest reads it on every request (a map lookup); changes replace an entry whole, so a request
 * routes by one definition from start to end. It also keeps this node's per-route counts.
 */
export class SourceRegistry {
  private readonly entries = new Map<string, SourceEntry>();
  private readonly counts = new Map<string, SourceCounts>();

  get(name: string): SourceEntry | undefined {
    return this.entries.get(name);
  }

  list(): SourceEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  set(entry: SourceEntry): void {
    this.entries.set(entry.name, entry);
  }

  delete(name: string): boolean {
    this.counts.delete(name);
    return this.entries.delete(name);
  }

  /** Count one request routed by `source`: the labels of the routes that took it, the fallback, or nothing. */
  count(source: string, labels: readonly string[], fallback: boolean): void {
    let counts = this.counts.get(source);
    if (counts === undefined) this.counts.set(source, (counts = { routes: Object.create(null) as Record<string, number>, fallback: 0, unrouted: 0 }));
    for (const label of labels) counts.routes[label] = (counts.routes[label] ?? 0) + 1;
    if (fallback) counts.fallback += 1;
    else if (labels.length === 0) counts.unrouted += 1;
  }

  /** This node's counts of a source since start, with every route present (0 when it took nothing). */
  countsOf(name: string): SourceCounts {
    const entry = this.entries.get(name);
    const counts = this.counts.get(name);
    const routes: Record<string, number> = {};
    entry?.config.routes?.forEach((route, index) => (routes[routeLabel(route, index)] = counts?.routes[routeLabel(route, index)] ?? 0));
    return { routes, fallback: counts?.fallback ?? 0, unrouted: counts?.unrouted ?? 0 };
  }
}
