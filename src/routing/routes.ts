import { z } from 'zod';
import { conditionSchema, evaluate, explain, readJsonPath, UNREADABLE, type Condition, type Explanation, type JsonValue, type Resolve } from './conditions.js';

/**
 * Routing: which queues one ingested request goes to. A source names one `queue`, or `routes`, each
 * with an optional `when`; every route whose `when` holds gets a message (fan-out), or with
 * `first: true` only the first (a switch); `fallback` takes what no route matched.
 */

/** What a route's `when` may read of the ingested request. */
export const ROUTE_ROOTS = ['body', 'headers', 'query', 'path', 'method'] as const;

/** Most routes of one source. */
export const MAX_ROUTES = 32;

const routeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 characters of letters, digits, ".", "_" or "-"');

export const routeSchema = z
  .object({
    /**
     * Names the route in counts, metrics and the dry run; its index when absent. Digits alone are
     * refused: "1" would share its counts and metric label with an unnamed route at index 1.
     */
    name: routeName.refine((name) => !/^[0-9]+$/.test(name), 'digits alone label an unnamed route by its index: add a letter').optional(),
    queue: routeName.optional(),
    /** Start a workflow instead of feeding a queue (where workflows exist). */
    workflow: routeName.optional(),
    when: conditionSchema(ROUTE_ROOTS).optional(),
  })
  .strict()
  .superRefine((route, ctx) => {
    if ((route.queue === undefined) === (route.workflow === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['queue'], message: 'a route names either a queue or a workflow' });
    }
  });
export type RouteConfig = z.infer<typeof routeSchema>;

/** The routing part of a source: one queue, one workflow, or routes (with first and fallback). */
export interface Routing {
  queue?: string;
  workflow?: string;
  routes?: RouteConfig[];
  first?: boolean;
  fallback?: string;
}

/** The request as routing reads it: what ingest stores, before it is stored. */
export interface RoutedRequest {
  method: string;
  /** Sub-path after /in/{source}, '/' when none. */
  path: string;
  /** Raw query string without '?'. */
  query: string;
  headers: readonly (readonly [string, string])[];
  body: Buffer;
}

/** A route's label in counts and metrics: its name, else its index. */
export function routeLabel(route: RouteConfig, index: number): string {
  return route.name ?? String(index);
}

/**
 * Reads paths of one request. The body is parsed once, and only when a `body.*` path is read; headers
 * and query are indexed once, on first use. A header sent several times reads as its values joined
 * with ", " (as HTTP folds them); a query parameter sent several times reads as its first value.
 */
export function requestResolver(request: RoutedRequest): Resolve {
  let json: JsonValue | typeof UNREADABLE | undefined;
  let headers: Map<string, string> | undefined;
  let query: URLSearchParams | undefined;
  return (segments) => {
    switch (segments[0]) {
      case 'method':
        return segments.length === 1 ? request.method : undefined;
      case 'path':
        return segments.length === 1 ? request.path : undefined;
      case 'headers': {
        headers ??= headerIndex(request.headers);
        if (segments.length !== 2) return undefined;
        return headers.get(segments[1]!.toLowerCase());
      }
      case 'query': {
        query ??= new URLSearchParams(request.query);
        if (segments.length !== 2) return undefined;
        return query.get(segments[1]!) ?? undefined;
      }
      case 'body': {
        json ??= parseJson(request.body);
        if (json === UNREADABLE) return UNREADABLE;
        return readJsonPath(json, segments, 1);
      }
      default:
        return undefined;
    }
  };
}

function headerIndex(pairs: readonly (readonly [string, string])[]): Map<string, string> {
  const index = new Map<string, string>();
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const before = index.get(key);
    index.set(key, before === undefined ? value : `${before}, ${value}`);
  }
  return index;
}

function parseJson(body: Buffer): JsonValue | typeof UNREADABLE {
  if (body.length === 0) return UNREADABLE;
  try {
    return JSON.parse(body.toString('utf8')) as JsonValue;
  } catch {
    return UNREADABLE;
  }
}

/** Where one request goes: the routes that took it (their index in the source's list), or the fallback. */
export interface RouteChoice {
  /** Matching routes in the source's order, each with its index; one at most with `first`. */
  routes: { index: number; route: RouteConfig }[];
  /** The fallback queue, when no route matched and the source has one. */
  fallback?: string;
}

/** The routes `request` takes through a source with `routes`. */
export function chooseRoutes(routing: Routing, request: RoutedRequest): RouteChoice {
  const routes = routing.routes ?? [];
  const resolve = requestResolver(request);
  const chosen: RouteChoice['routes'] = [];
  for (let index = 0; index < routes.length; index += 1) {
    const route = routes[index]!;
    if (route.when !== undefined && !evaluate(route.when as Condition, resolve)) continue;
    chosen.push({ index, route });
    if (routing.first) break;
  }
  if (chosen.length === 0 && routing.fallback !== undefined) return { routes: chosen, fallback: routing.fallback };
  return { routes: chosen };
}

/** A dry run: every route, whether it would take the request, and each condition with what it read. */
export interface RoutingExplanation {
  routes: {
    index: number;
    name: string;
    queue?: string;
    workflow?: string;
    /** Its `when` held (or it has none). */
    matched: boolean;
    /** It would get a message: matched, and (with `first`) no earlier route did. */
    selected: boolean;
    why?: Explanation;
  }[];
  first: boolean;
  /** The fallback queue, when it would take the request. */
  fallback?: string;
  /** Queues that would get a message and workflows that would start a run, in order. */
  targets: { queue?: string; workflow?: string; route?: string; fallback?: boolean }[];
}

export function explainRouting(routing: Routing, request: RoutedRequest): RoutingExplanation {
  const resolve = requestResolver(request);
  const first = routing.first === true;
  if (routing.routes === undefined) {
    const target = routing.queue !== undefined ? { queue: routing.queue } : routing.workflow !== undefined ? { workflow: routing.workflow } : undefined;
    return { routes: [], first, targets: target ? [target] : [] };
  }
  let taken = false;
  const routes = routing.routes.map((route, index) => {
    const why = route.when === undefined ? undefined : explain(route.when as Condition, resolve);
    const matched = why === undefined || why.result;
    const selected = matched && !(first && taken);
    if (selected) taken = true;
    return { index, name: routeLabel(route, index), queue: route.queue, workflow: route.workflow, matched, selected, ...(why ? { why } : {}) };
  });
  const targets: RoutingExplanation['targets'] = routes
    .filter((route) => route.selected)
    .map((route) => ({ route: route.name, ...(route.queue ? { queue: route.queue } : { workflow: route.workflow }) }));
  const explanation: RoutingExplanation = { routes, first, targets };
  if (targets.length === 0 && routing.fallback !== undefined) {
    explanation.fallback = routing.fallback;
    targets.push({ queue: routing.fallback, fallback: true });
  }
  return explanation;
}

/** Every workflow a source may start: its workflow, or its routes' workflows. */
export function routedWorkflows(routing: Routing): string[] {
  if (routing.routes === undefined) return routing.workflow === undefined ? [] : [routing.workflow];
  return [...new Set(routing.routes.flatMap((route) => (route.workflow === undefined ? [] : [route.workflow])))];
}

/** Every queue a source may send to: its queue, or its routes' queues and its fallback. */
export function routedQueues(routing: Routing): string[] {
  if (routing.routes === undefined) return routing.queue === undefined ? [] : [routing.queue];
  const queues = routing.routes.flatMap((route) => (route.queue === undefined ? [] : [route.queue]));
  if (routing.fallback !== undefined) queues.push(routing.fallback);
  return [...new Set(queues)];
}
