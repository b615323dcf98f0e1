import type { HeaderPair, MessageFields, NewMessage, StoredMessage } from '../store/types.js';
import { percentEncode, placeholderText } from './placeholders.js';
import { sentinelPattern, type SecretSentinels } from './render.js';

/**
 * How a message made from a template keeps its secrets out of storage until it is sent.
 *
 * The message is stored with `{{ secrets.name }}` where each secret goes, and with a list of exactly
 * where those are (the slots): which field, at which character, which secret, and how the value is
 * to be encoded there (percent-encoded in the URL, JSON-escaped inside a JSON string, as it is in a
 * header or a text body). Only the slots are filled when the message is sent; a variable that
 * happened to hold the text `{{ secrets.x }}` is not in them and stays text.
 *
 * The slots travel as one more stored header, SECRET_SLOTS_HEADER, the last of the message's
 * headers: its name begins with ':', which no HTTP header name can (RFC 9110 tokens), so no
 * ingested request and no API message can carry one, and nothing else reads it. A column of its own
 * would have done the same at the price of a migration of the messages table and of every append
 * and read path of both stores, the hottest code there is, for a marker that most messages never
 * carry; a header costs those paths nothing. It is dropped from the request that is sent and from
 * every view of the message.
 */

/** The stored header that holds a message's secret slots (see above). */
export const SECRET_SLOTS_HEADER = ':sluice-secrets';

/** How a secret's value is written where it goes: percent-encoded (u), as it is (t), JSON-escaped (j). */
type Encoding = 'u' | 't' | 'j';
/** One place of one secret: the character where its placeholder starts, the secret, and its encoding. */
type Slot = [at: number, name: string, encoding: Encoding];

/** Where a message's secrets go: in its url, in its headers (by index), in its body. */
interface Slots {
  u?: Slot[];
  h?: Record<string, Slot[]>;
  b?: Slot[];
}

/**
 * The message of a rendered template as it is stored: each sentinel (render.ts) replaced by the
 * secret's placeholder, its place recorded in the slots header. A message without secrets is
 * returned as it is.
 */
export function placeSecrets(message: NewMessage, sentinels: SecretSentinels, bodyIsText: boolean): NewMessage {
  if (sentinels.names.length === 0) return message;
  const slots: Slots = {};
  const place = (text: string, encoding: Encoding, found?: Slot[]) => replaceSentinels(text, sentinels, encoding, found);
  const placed: NewMessage = { ...message };
  if (message.url !== undefined) {
    const url: Slot[] = [];
    placed.url = place(message.url, 'u', url);
    if (url.length > 0) slots.u = url;
  }
  // Path and query are what GET shows of an outbound message; they are not sent.
  placed.path = place(message.path, 'u');
  placed.query = place(message.query, 'u');
  placed.headers = message.headers.map(([name, value], index): HeaderPair => {
    const found: Slot[] = [];
    const text = place(value, 't', found);
    if (found.length > 0) (slots.h ??= {})[String(index)] = found;
    return [name, text];
  });
  const body: Slot[] = [];
  placed.body = Buffer.from(place(message.body.toString('utf8'), bodyIsText ? 't' : 'j', body), 'utf8');
  if (body.length > 0) slots.b = body;
  placed.headers.push([SECRET_SLOTS_HEADER, JSON.stringify(slots)]);
  return placed;
}

function replaceSentinels(text: string, sentinels: SecretSentinels, encoding: Encoding, found?: Slot[]): string {
  let out = '';
  let from = 0;
  for (const match of text.matchAll(sentinelPattern(sentinels))) {
    const name = sentinels.names[Number(match[1])]!;
    out += text.slice(from, match.index);
    found?.push([out.length, name, encoding]);
    out += placeholderOf(name);
    from = match.index + match[0].length;
  }
  return out + text.slice(from);
}

function placeholderOf(name: string): string {
  return placeholderText('secrets', name.split('.'));
}

/** Whether a message waits for secrets to be filled when it is sent. O(1): the slots header is the last. */
export function hasSecretSlots(message: Pick<MessageFields, 'headers'>): boolean {
  return message.headers.at(-1)?.[0] === SECRET_SLOTS_HEADER;
}

/** The headers of a message as they may be shown: without the slots header. */
export function shownHeaders(headers: HeaderPair[]): HeaderPair[] {
  return headers.at(-1)?.[0] === SECRET_SLOTS_HEADER ? headers.slice(0, -1) : headers;
}

/** The names of the secrets a message will be sent with, in order of first use; none for most messages. */
export function secretNamesOf(message: Pick<MessageFields, 'headers'>): string[] {
  if (!hasSecretSlots(message)) return [];
  const slots = readSlots(message.headers.at(-1)![1]);
  if (!slots) return [];
  const all = [...(slots.u ?? []), ...Object.values(slots.h ?? {}).flat(), ...(slots.b ?? [])];
  return [...new Set(all.map(([, name]) => name))];
}

/** A secret's value, or why there is none (SecretVault.reveal in the message's tenant). */
export type SecretLookup = (name: string) => { ok: true; value: string } | { ok: false; kind: 'missing' | 'unavailable' | 'unreadable'; message: string };

/** A message with its secrets filled, and the values used (to scrub from what the target answers). */
export type Filled = { ok: true; message: StoredMessage; values: string[] } | { ok: false; kind: 'missing' | 'unavailable' | 'unreadable'; message: string };

/**
 * The message as it is to be sent: each slot filled with its secret's value, encoded for where it
 * stands, and the slots header gone. Fails, naming the secret and never its value, when a secret is
 * missing or cannot be opened, when a value cannot stand in a header (a line break), or when the
 * stored message no longer has a placeholder where a slot says.
 */
export function fillSecrets(message: StoredMessage, lookup: SecretLookup): Filled {
  const slots = readSlots(message.headers.at(-1)?.[1] ?? '');
  if (!slots) return { ok: false, kind: 'unreadable', message: 'the message names its secrets in a form this version cannot read' };
  const values = new Map<string, string>();
  const valueOf = (name: string): string | Filled => {
    const known = values.get(name);
    if (known !== undefined) return known;
    const found = lookup(name);
    if (!found.ok) return found;
    values.set(name, found.value);
    return found.value;
  };
  const filled: StoredMessage = { ...message, headers: message.headers.slice(0, -1) };
  let failure: Filled | undefined;
  const fill = (text: string, list: Slot[] | undefined): string => {
    if (failure || !list) return text;
    const result = fillText(text, list, valueOf);
    if (typeof result !== 'string') failure = result;
    return typeof result === 'string' ? result : text;
  };
  if (message.url !== undefined) filled.url = fill(message.url, slots.u);
  filled.headers = filled.headers.map(([name, value], index) => [name, fill(value, slots.h?.[String(index)])]);
  for (const [name, value] of filled.headers) {
    if (!failure && /[\r\n\0]/.test(value)) failure = { ok: false, kind: 'unreadable', message: `a secret cannot stand in header ${name}: its value holds a line break or NUL` };
  }
  if (slots.b) filled.body = Buffer.from(fill(message.body.toString('utf8'), slots.b), 'utf8');
  return failure ?? { ok: true, message: filled, values: [...values.values()] };
}

function fillText(text: string, list: Slot[], valueOf: (name: string) => string | Filled): string | Filled {
  let out = text;
  // From the last slot back, so each one's position still holds when it is filled.
  for (const [at, name, encoding] of [...list].sort((a, b) => b[0] - a[0])) {
    const placeholder = placeholderOf(name);
    if (!out.startsWith(placeholder, at)) return { ok: false, kind: 'unreadable', message: `the message no longer holds secret "${name}" where it was placed` };
    const value = valueOf(name);
    if (typeof value !== 'string') return value;
    out = out.slice(0, at) + encode(value, encoding) + out.slice(at + placeholder.length);
  }
  return out;
}

function encode(value: string, encoding: Encoding): string {
  if (encoding === 'u') return percentEncode(value);
  if (encoding === 'j') return JSON.stringify(value).slice(1, -1);
  return value;
}

function readSlots(text: string): Slots | undefined {
  try {
    const slots = JSON.parse(text) as unknown;
    return typeof slots === 'object' && slots !== null && !Array.isArray(slots) ? (slots as Slots) : undefined;
  } catch {
    return undefined;
  }
}

/** Shorter forms are not scrubbed: replacing every "abc" of an answer would garble it, and hide nothing. */
const MIN_SCRUBBED = 4;
const SCRUBBED = '[secret]';

/**
 * A response (or an error) with every exact value of `values` taken out: the value itself, its
 * base64 and base64url, percent-encoded, and JSON-escaped; and a form cut off at the end of the text
 * (responses are kept to their first KiB). A best effort against targets that echo their input.
 */
export function scrubSecrets(text: string, values: readonly string[]): string {
  if (values.length === 0) return text;
  const forms = new Set<string>();
  for (const value of values) {
    const bytes = Buffer.from(value, 'utf8');
    const base64 = bytes.toString('base64');
    for (const form of [value, base64, base64.replace(/=+$/, ''), bytes.toString('base64url'), percentEncode(value), JSON.stringify(value).slice(1, -1)]) {
      if (form.length >= MIN_SCRUBBED) forms.add(form);
    }
  }
  const longestFirst = [...forms].sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of longestFirst) out = out.split(form).join(SCRUBBED);
  for (const form of longestFirst) {
    for (let cut = form.length - 1; cut >= MIN_SCRUBBED; cut -= 1) {
      if (out.endsWith(form.slice(0, cut))) {
        out = out.slice(0, out.length - cut) + SCRUBBED;
        break;
      }
    }
  }
  return out;
}
