import type { RoutedRequest } from './routes.js';

/**
 * An ingested request as a workflow run started by its source reads it, in `{{ vars.request.… }}`
 * and in steps' `when` (`vars.request.body.type`). Built once per request that starts a run, and
 * only then: a source that feeds queues alone never parses its bodies.
 */
export interface RequestVars {
  method: string;
  /** The sub-path after /in/{source}, '/' when none. */
  path: string;
  /** Names in lower case; a header sent several times reads as its values joined with ", " (as HTTP folds them, and as routes read it). */
  headers: Record<string, string>;
  /**
   * The query string's parameters, decoded. A parameter given once is a string; one given several
   * times is an array of its values in order (`?tag=a&tag=b` → `["a", "b"]`, so `vars.request.query.tag.0`
   * reads the first), where joining them would lose values that hold the separator.
   */
  query: Record<string, string | string[]>;
  /** The JSON value when the body parses as JSON, else its UTF-8 text ('' when empty). */
  body: unknown;
}

/**
 * The request in the shape `vars.request` has. Headers and query come out with a null prototype, so
 * a header or parameter named `__proto__` or `constructor` is a key like any other.
 */
export function requestVars(request: RoutedRequest): RequestVars {
  return { method: request.method, path: request.path, headers: headerObject(request.headers), query: queryObject(request.query), body: bodyValue(request.body) };
}

function headerObject(pairs: RoutedRequest['headers']): Record<string, string> {
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const before = headers[key];
    headers[key] = before === undefined ? value : `${before}, ${value}`;
  }
  return headers;
}

function queryObject(query: string): Record<string, string | string[]> {
  const params = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(query)) {
    const before = params[name];
    if (before === undefined) params[name] = value;
    else if (Array.isArray(before)) before.push(value);
    else params[name] = [before, value];
  }
  return params;
}

function bodyValue(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.length === 0) return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
