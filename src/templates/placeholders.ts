/**
 * The placeholder language of templates, and nothing more: `{{ vars.a.b }}`, `{{ secrets.name }}`
 * (and, for workflows, `{{ steps.… }}`, when the caller names that root). Written here rather than
 * taken from a template library (Handlebars, Mustache, Nunjucks) because what a template may do is
 * the security boundary: no expressions, no helpers, no partials, no lookups beyond own properties
 * of plain JSON values, and one pass, so that a value is never read as a template again. A library
 * would have to be configured down to this, and kept there through its upgrades.
 *
 * - A placeholder is `{{`, optional spaces or tabs, a root, one or more `.segment` (letters,
 *   digits, `_`, `-`), optional spaces or tabs, `}}`. Any other `{{ … }}` — `{{ constructor }}`,
 *   `{{vars}}`, `{{ vars..a }}`, `{{ other.x }}`, a root the caller did not name — is literal text.
 * - A segment that is all digits indexes an array; any other reads an own property of an object.
 *   Nothing else is reachable: no prototype, no `length`, no method.
 *
 * This file depends on nothing, so the config schema can check templates with it.
 */

/** One placeholder as written. */
export interface Placeholder {
  /** `vars`, `secrets`, or another root its caller names. */
  readonly root: string;
  /** The dotted path after the root: `{{ vars.user.email }}` → ['user', 'email']. */
  readonly path: readonly string[];
  /** Where it stands in the text it was read from, and how long it is there. */
  readonly index: number;
  readonly length: number;
}

/** A text as parsed: literal pieces and placeholders, in order. */
export type Segment = string | Placeholder;

/** The roots of a message template. */
export const TEMPLATE_ROOTS: ReadonlySet<string> = new Set(['vars', 'secrets']);

const PLACEHOLDER = /\{\{[ \t]*([a-z]+)((?:\.[A-Za-z0-9_-]+)+)[ \t]*\}\}/g;
const WHOLE = /^\{\{[ \t]*([a-z]+)((?:\.[A-Za-z0-9_-]+)+)[ \t]*\}\}$/;

/**
 * The segments of `text`: placeholders of the given roots, and literal text between them.
 *
 * @example
 * parseText('Hi {{ vars.name }} {{ nope }}') // ['Hi ', { root: 'vars', path: ['name'], … }, ' {{ nope }}']
 */
export function parseText(text: string, roots: ReadonlySet<string> = TEMPLATE_ROOTS): Segment[] {
  const segments: Segment[] = [];
  let from = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const root = match[1]!;
    if (!roots.has(root)) continue;
    if (match.index > from) segments.push(text.slice(from, match.index));
    segments.push({ root, path: match[2]!.slice(1).split('.'), index: match.index, length: match[0].length });
    from = match.index + match[0].length;
  }
  if (from < text.length) segments.push(text.slice(from));
  return segments;
}

/** The placeholder that is the whole of `text` (spaces inside the braces allowed, none outside), if it is one. */
export function wholePlaceholder(text: string, roots: ReadonlySet<string> = TEMPLATE_ROOTS): Placeholder | undefined {
  const match = WHOLE.exec(text);
  if (!match || !roots.has(match[1]!)) return undefined;
  return { root: match[1]!, path: match[2]!.slice(1).split('.'), index: 0, length: text.length };
}

/** Whether a text holds any placeholder of the given roots. */
export function hasPlaceholder(text: string, roots: ReadonlySet<string> = TEMPLATE_ROOTS): boolean {
  return parseText(text, roots).some((segment) => typeof segment !== 'string');
}

/** The name a `{{ secrets.… }}` placeholder names: its path joined by dots (names may hold dots). */
export function secretNameOf(placeholder: Placeholder): string {
  return placeholder.path.join('.');
}

/** The canonical text of a placeholder: `{{ root.a.b }}`. */
export function placeholderText(root: string, path: readonly string[]): string {
  return `{{ ${root}.${path.join('.')} }}`;
}

/** What a path reads in a JSON value: own properties and array indexes only. */
export type Lookup = { found: true; value: unknown } | { found: false };

const INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * Read `path` in a JSON value. An object's own properties only (`__proto__`, `constructor` and
 * `toString` are found only when the value itself has them, as JSON.parse makes them); an array by
 * index only.
 */
export function lookupPath(value: unknown, path: readonly string[]): Lookup {
  let current = value;
  for (const segment of path) {
    if (Array.isArray(current)) {
      if (!INDEX.test(segment) || Number(segment) >= current.length) return { found: false };
      current = current[Number(segment)];
    } else if (typeof current === 'object' && current !== null && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      return { found: false };
    }
  }
  return current === undefined ? { found: false } : { found: true, value: current };
}

/** A value inserted into text: a string as it is, anything else as its JSON text. */
export function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Where the origin of a URL template ends: the segments before the first `/`, `?` or `#` of its
 * literal text after the scheme's `://` stand for scheme, host and port. A placeholder there is
 * inserted as it is (a variable may hold a host); one after it is percent-encoded. Returns the index
 * of the first segment past the origin (segments.length when the template has no path at all).
 */
export function urlOriginEnd(segments: readonly Segment[]): number {
  let schemeSeen = false;
  for (const [index, segment] of segments.entries()) {
    if (typeof segment !== 'string') continue;
    let text = segment;
    if (!schemeSeen) {
      const scheme = text.indexOf('://');
      if (scheme >= 0) {
        schemeSeen = true;
        text = text.slice(scheme + 3);
      }
    }
    if (/[/?#]/.test(text)) return index;
  }
  return segments.length;
}

/**
 * What is wrong with a URL template, for the config schema and PUT /v1/templates: a secret standing
 * in the scheme, host or port (the domain, its limits and the SSRF check are decided when a message
 * is made, before secrets are filled), or, without any placeholder, not an http(s) URL.
 */
export function urlTemplateProblem(url: string, roots: ReadonlySet<string> = TEMPLATE_ROOTS): string | undefined {
  const segments = parseText(url, roots);
  const originEnd = urlOriginEnd(segments);
  const inOrigin = segments.slice(0, originEnd).filter((segment): segment is Placeholder => typeof segment !== 'string');
  if (inOrigin.some((placeholder) => placeholder.root === 'secrets')) {
    return "a secret may not stand in the URL's scheme, host or port (they decide the domain, its limits and the SSRF check when a message is made); put it in the path, the query or a header";
  }
  if (segments.some((segment) => typeof segment !== 'string')) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? undefined : 'only http and https targets are allowed';
}

const SECRETS_ONLY: ReadonlySet<string> = new Set(['secrets']);

/**
 * The vault secret a whole setting names, for settings that take `{{ secrets.name }}` in place of
 * the secret itself (a queue's signingSecret, a source's verify secret); undefined for any other text.
 */
export function secretReference(text: string): string | undefined {
  const placeholder = wholePlaceholder(text, SECRETS_ONLY);
  return placeholder && secretNameOf(placeholder);
}

/** Whether a text mentions the vault at all, as a whole reference or inside other text. */
export function mentionsSecrets(text: string): boolean {
  return hasPlaceholder(text, SECRETS_ONLY);
}

/** encodeURIComponent, which throws on a lone surrogate: such a character becomes U+FFFD first. */
export function percentEncode(text: string): string {
  return encodeURIComponent(text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
}
