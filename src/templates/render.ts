import { randomBytes } from 'node:crypto';
import type { TemplateConfig } from '../config/schema.js';
import { asText, lookupPath, parseText, percentEncode, placeholderText, secretNameOf, TEMPLATE_ROOTS, urlOriginEnd, wholePlaceholder, type Placeholder, type Segment } from './placeholders.js';

/**
 * Rendering a template with its variables, in one pass (placeholders.ts has the language):
 *
 * - url: a variable in the scheme, host or port is inserted as it is (it may hold a host); in the
 *   path, query or fragment it is percent-encoded (encodeURIComponent: a variable cannot add a path
 *   segment or a query parameter). A secret may not stand in the scheme, host or port.
 * - header values and a string body: the value as text (a string as it is, anything else as JSON).
 * - a JSON body: a string that is exactly one placeholder becomes the variable's JSON value (numbers
 *   stay numbers, objects stay objects); other strings get text. Object keys are not rendered.
 *
 * Secrets are not filled here (that happens when the message is sent, secret-slots.ts): each
 * `{{ secrets.x }}` becomes a sentinel, a random token of letters and digits that survives URL
 * normalisation and JSON serialisation unchanged and that no variable can know in advance, so where
 * the template put a secret is known exactly, and a variable holding the text `{{ secrets.x }}` stays
 * that text.
 */

/** A rendered text may grow to this many characters at most: a variable repeated in a template must not blow up memory. */
export const MAX_RENDERED_CHARS = 16 * 1024 * 1024;

/** The secrets a rendered template refers to: sentinel i (sentinelOf) stands for names[i]. */
export interface SecretSentinels {
  nonce: string;
  names: string[];
}

/** The sentinel that stands for secret `index` until the message is sealed. */
export function sentinelOf(sentinels: Pick<SecretSentinels, 'nonce'>, index: number): string {
  return `sluicesecret${sentinels.nonce}n${index}e`;
}

/** Finds every sentinel of one rendering; group 1 is its index. */
export function sentinelPattern(sentinels: Pick<SecretSentinels, 'nonce'>): RegExp {
  return new RegExp(`sluicesecret${sentinels.nonce}n(\\d+)e`, 'g');
}

/** A template with its variables filled, its secrets standing as sentinels. */
export interface RenderedTemplate {
  url?: string;
  method: TemplateConfig['method'];
  headers: Record<string, string>;
  body?: unknown;
  /** The template's body was a string: secrets in it are inserted as plain text, not as JSON. */
  bodyIsText: boolean;
  secrets: SecretSentinels;
}

/** One thing that kept a template from rendering: a missing variable (`vars.user.email`) or a field. */
export interface RenderProblem {
  field: string;
  message: string;
}

export type RenderResult = { ok: true; rendered: RenderedTemplate } | { ok: false; problems: RenderProblem[] };

/**
 * Values for the roots other than `secrets`: `{ vars }` for a message template; a workflow step adds
 * `steps`. Every root named here is a placeholder root.
 */
export type RenderScope = Record<string, unknown>;

/**
 * Render a template. Every missing variable is reported (one problem each, named by its path); a
 * secret in the URL's origin is a problem of `url`.
 *
 * @example
 * renderTemplate({ url: 'https://api.example.com/users/{{ vars.id }}', method: 'POST', headers: {} }, { vars: { id: 'a/b' } })
 * // → { ok: true, rendered: { url: 'https://api.example.com/users/a%2Fb', … } }
 */
export function renderTemplate(template: Omit<TemplateConfig, 'queue' | 'retry' | 'priority'>, scope: RenderScope, maxChars = MAX_RENDERED_CHARS): RenderResult {
  const renderer = new Renderer(scope, maxChars);
  try {
    const headers = Object.create(null) as Record<string, string>;
    for (const [name, value] of Object.entries(template.headers)) headers[name] = renderer.text(renderer.parse(value), `headers.${name}`);
    const rendered: RenderedTemplate = { method: template.method, headers, bodyIsText: typeof template.body === 'string', secrets: renderer.sentinels };
    if (template.url !== undefined) rendered.url = renderer.url(template.url);
    if (template.body !== undefined) rendered.body = typeof template.body === 'string' ? renderer.text(renderer.parse(template.body), 'body') : renderer.json(template.body);
    const problems = renderer.problems();
    return problems.length > 0 ? { ok: false, problems } : { ok: true, rendered };
  } catch (error) {
    if (!(error instanceof TooLarge)) throw error;
    return { ok: false, problems: [{ field: error.field, message: `renders to more than ${maxChars} characters` }] };
  }
}

class TooLarge extends Error {
  constructor(readonly field: string) {
    super(`${field}: rendered too large`);
  }
}

class Renderer {
  readonly sentinels: SecretSentinels = { nonce: randomBytes(8).toString('hex'), names: [] };
  private readonly roots: ReadonlySet<string>;
  private readonly missing = new Set<string>();
  private readonly other: RenderProblem[] = [];
  private size = 0;

  constructor(
    private readonly scope: RenderScope,
    private readonly maxChars: number,
  ) {
    this.roots = new Set([...TEMPLATE_ROOTS, ...Object.keys(scope)]);
  }

  parse(text: string): Segment[] {
    return parseText(text, this.roots);
  }

  problems(): RenderProblem[] {
    const missing = [...this.missing].map((field) => ({ field, message: 'missing: the template uses it' }));
    return [...missing, ...this.other];
  }

  /** Text: literal pieces, variables as text (encoded by `encode`), secrets as their sentinels. */
  text(segments: Segment[], field: string, encode: (text: string) => string = (text) => text): string {
    let out = '';
    for (const segment of segments) {
      const piece = typeof segment === 'string' ? segment : segment.root === 'secrets' ? this.secret(segment) : encode(this.valueText(segment));
      this.grow(piece.length, field);
      out += piece;
    }
    return out;
  }

  url(template: string): string {
    const segments = this.parse(template);
    const originEnd = urlOriginEnd(segments);
    let out = '';
    for (const [index, segment] of segments.entries()) {
      const inOrigin = index < originEnd;
      if (typeof segment !== 'string' && segment.root === 'secrets' && inOrigin) {
        this.other.push({ field: 'url', message: "a secret may not stand in the URL's scheme, host or port" });
        continue;
      }
      out += this.text([segment], 'url', inOrigin ? undefined : percentEncode);
    }
    return out;
  }

  /** A JSON body: each string rendered, a string that is one placeholder replaced by its value. */
  json(value: unknown, field = 'body'): unknown {
    if (typeof value === 'string') {
      const whole = wholePlaceholder(value, this.roots);
      if (!whole) return this.text(this.parse(value), field);
      if (whole.root === 'secrets') return this.secret(whole);
      const found = this.value(whole);
      if (found !== undefined) this.grow(JSON.stringify(found).length, field);
      return found ?? null;
    }
    if (Array.isArray(value)) return value.map((item, index) => this.json(item, `${field}.${index}`));
    if (typeof value === 'object' && value !== null) {
      // fromEntries defines own properties: a key `__proto__` stays a key.
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.json(item, `${field}.${key}`)]));
    }
    return value;
  }

  private secret(placeholder: Placeholder): string {
    const name = secretNameOf(placeholder);
    let index = this.sentinels.names.indexOf(name);
    if (index < 0) index = this.sentinels.names.push(name) - 1;
    return sentinelOf(this.sentinels, index);
  }

  /** A variable's value, or undefined (noted as missing). Never rendered again: its text is final. */
  private value(placeholder: Placeholder): unknown {
    const found = lookupPath(this.scope[placeholder.root], placeholder.path);
    if (found.found) return found.value;
    this.missing.add(`${placeholder.root}.${placeholder.path.join('.')}`);
    return undefined;
  }

  private valueText(placeholder: Placeholder): string {
    const value = this.value(placeholder);
    return value === undefined ? placeholderText(placeholder.root, placeholder.path) : asText(value);
  }

  private grow(chars: number, field: string): void {
    this.size += chars;
    if (this.size > this.maxChars) throw new TooLarge(field);
  }
}


/** The variables (dotted paths) and secrets a template uses, each once, in order of appearance. */
export function templateReferences(template: Pick<TemplateConfig, 'url' | 'headers' | 'body'>): { vars: string[]; secrets: string[] } {
  const vars = new Set<string>();
  const secrets = new Set<string>();
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const segment of parseText(value)) {
        if (typeof segment === 'string') continue;
        if (segment.root === 'secrets') secrets.add(secretNameOf(segment));
        else vars.add(segment.path.join('.'));
      }
    } else if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(visit);
  };
  visit(template.url);
  visit(Object.values(template.headers));
  visit(template.body);
  return { vars: [...vars], secrets: [...secrets] };
}
