import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Reply } from './context.js';
import type { Principal } from './auth.js';
import type { RouteDoc } from './route-doc.js';

/** What a route handler receives. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal;
}

/**
 * A handler returns a JSON reply, or undefined when it wrote the response itself (streams). The
 * body and status are those its description documents, checked by the compiler.
 */
export type RouteHandler<Body = unknown, Status extends number = number> = (ctx: RouteContext) => Promise<Reply<Body, Status> | undefined>;

/** The body type a response schema documents: its parsed output, or nothing for a route with no JSON body. */
export type DocumentedBody<S extends z.ZodType | undefined> = S extends z.ZodType ? z.output<S> : undefined;

/** A /v1 route's description: every /v1 route needs a key. */
export type ApiRouteDoc<S extends z.ZodType | undefined = z.ZodType | undefined, Status extends number = number> = RouteDoc<S, Status> & {
  auth: 'admin' | 'tenant';
};

/** One registered route, as the OpenAPI document lists it. */
export interface RegisteredRoute {
  method: string;
  /** The path as registered: `/v1/queues/:queue/pull`. */
  path: string;
  doc: ApiRouteDoc;
}

interface Route extends RegisteredRoute {
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
}

/** Outcome of matching a request against the routes. */
export type RouteMatch =
  | { kind: 'found'; handler: RouteHandler; params: Record<string, string>; auth: ApiRouteDoc['auth'] }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' };

/**
 * A small route table: `/v1/queues/:queue/pull`. A parameter matches one path segment; it is
 * URI-decoded, and a decoded value holding "/" is refused (no path tricks through %2F). Each route
 * is registered with its description, from which the OpenAPI document is built.
 */
export class Router {
  private readonly table: Route[] = [];

  add<S extends z.ZodType | undefined = undefined, Status extends number = number>(
    method: string,
    path: string,
    handler: RouteHandler<DocumentedBody<NoInfer<S>>, NoInfer<Status>>,
    doc: ApiRouteDoc<S, Status>,
  ): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    for (const name of Object.keys(doc.params ?? {})) {
      if (!names.includes(name)) throw new Error(`${method} ${path}: the description names a parameter :${name} the path does not have`);
    }
    this.table.push({ method, path, doc: doc as ApiRouteDoc, pattern: new RegExp(`^${source}$`), names, handler: handler as RouteHandler });
    return this;
  }

  /** Every route in registration order. */
  routes(): RegisteredRoute[] {
    return this.table.map(({ method, path, doc }) => ({ method, path, doc }));
  }

  match(method: string, path: string): RouteMatch {
    const allowed: string[] = [];
    for (const route of this.table) {
      const found = route.pattern.exec(path);
      if (!found) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params = decodeParams(route.names, found);
      if (!params) return { kind: 'not-found' };
      return { kind: 'found', handler: route.handler, params, auth: route.doc.auth };
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
