import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Reply } from './context.js';
import type { Principal } from './auth.js';

/** What a route handler receives. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal;
}

/** A handler returns a JSON reply, or undefined when it wrote the response itself (streams). */
export type RouteHandler = (ctx: RouteContext) => Promise<Reply | undefined>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
}

/** Outcome of matching a request against the routes. */
export type RouteMatch =
  | { kind: 'found'; handler: RouteHandler; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' };

/**
 * A small route table: `/v1/queues/:queue/pull`. A parameter matches one path segment; it is
 * URI-decoded, and a decoded value holding "/" is refused (no path tricks through %2F).
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: RouteHandler): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  match(method: string, path: string): RouteMatch {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const found = route.pattern.exec(path);
      if (!found) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params = decodeParams(route.names, found);
      if (!params) return { kind: 'not-found' };
      return { kind: 'found', handler: route.handler, params };
    }
    return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'not-found' };
  }
}

function decodeParams(names: string[], found: RegExpExecArray): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let index = 0; index < names.length; index += 1) {
    let value: string;
    try {
      value = decodeURIComponent(found[index + 1]!);
    } catch {
      return undefined;
    }
    if (value.includes('/') || value === '.' || value === '..') return undefined;
    params[names[index]!] = value;
  }
  return params;
}
