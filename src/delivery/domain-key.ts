/**
 * Domain keys: the name under which a push target's limits and SSRF exceptions are looked up.
 *
 * A key is the host as the WHATWG URL parser normalises it (lower case, punycode, IPv4 in
 * dotted-decimal, IPv6 compressed and in brackets), plus `:port` when a port is part of it.
 * Normalising user-given keys with the same parser that reads target URLs is what makes
 * `API.Example.com`, `0x7f.1` or `[0:0::1]` in a configuration match the URLs they mean.
 */

/** Characters that mean the user gave more than a host and port (a path, query, credentials). */
const NOT_A_HOST_CHARACTER = /[/?#@\\]/;

/**
 * The domain key of a target URL: its host (lower case; IPv6 in brackets), plus `:port` only
 * when the URL names a port that is not the default of its scheme.
 *
 * @example
 * domainKeyOf(new URL('http://API.example.com/hook'));      // 'api.example.com'
 * domainKeyOf(new URL('http://127.0.0.1:5678/webhook'));    // '127.0.0.1:5678'
 * domainKeyOf(new URL('https://example.com:443/'));         // 'example.com' (443 is the default)
 */
export function domainKeyOf(url: URL): string {
  // The URL parser already drops a port equal to the scheme's default, so `port` is '' then.
  const host = url.hostname.toLowerCase();
  return url.port === '' ? host : `${host}:${url.port}`;
}

/**
 * Validate a user-given host key ("API.example.com", "127.0.0.1:5678", "[::1]:80", "::1") and
 * return it in domain-key form. A bare IPv6 address is accepted without brackets, but then it
 * cannot carry a port: write `[::1]:80` for that.
 *
 * @throws Error naming what is wrong: empty, whitespace, a scheme or path, a wildcard, a bad host
 *   or a port that is not a number in 1-65535.
 */
export function normalizeHostKey(key: string): string {
  rejectNonHostSyntax(key);
  const { host, port } = splitHostAndPort(key);
  const hostname = normalizeHostname(key, host);
  return port === undefined ? hostname : `${hostname}:${normalizePort(key, port)}`;
}

function rejectNonHostSyntax(key: string): void {
  if (typeof key !== 'string' || key === '') throw new Error('host key is empty');
  if (/\s/.test(key)) throw new Error(`host key ${JSON.stringify(key)} contains whitespace`);
  if (key.includes('://')) {
    throw new Error(`host key ${JSON.stringify(key)} is a URL; give only the host and optional port, e.g. "api.example.com:8443"`);
  }
  const stray = NOT_A_HOST_CHARACTER.exec(key);
  if (stray) {
    throw new Error(`host key ${JSON.stringify(key)} may hold only a host and an optional port (found "${stray[0]}")`);
  }
  if (key.includes('*')) throw new Error(`host key ${JSON.stringify(key)}: wildcards are not supported; list each host`);
}

function splitHostAndPort(key: string): { host: string; port?: string } {
  if (key.startsWith('[')) return splitBracketed(key);
  const colons = key.split(':').length - 1;
  // Two or more colons can only be a bare IPv6 address, which cannot carry a port.
  if (colons >= 2) return { host: `[${key}]` };
  if (colons === 0) return { host: key };
  const at = key.indexOf(':');
  return { host: key.slice(0, at), port: key.slice(at + 1) };
}

function splitBracketed(key: string): { host: string; port?: string } {
  const close = key.indexOf(']');
  if (close === -1) throw new Error(`host key ${JSON.stringify(key)}: "[" without a closing "]"`);
  const host = key.slice(0, close + 1);
  const rest = key.slice(close + 1);
  if (rest === '') return { host };
  if (!rest.startsWith(':')) throw new Error(`host key ${JSON.stringify(key)}: unexpected "${rest}" after "]"`);
  return { host, port: rest.slice(1) };
}

function normalizeHostname(key: string, host: string): string {
  if (host === '' || host === '[]') throw new Error(`host key ${JSON.stringify(key)} has an empty host`);
  let parsed: URL;
  try {
    parsed = new URL(`http://${host}/`);
  } catch (error) {
    throw new Error(`host key ${JSON.stringify(key)}: "${host}" is not a valid host name or IP address`, { cause: error });
  }
  // Anything that made the parser see more than a host (a port sneaking in, say) is not a host.
  if (parsed.port !== '' || parsed.hostname === '') {
    throw new Error(`host key ${JSON.stringify(key)}: "${host}" is not a valid host name or IP address`);
  }
  return parsed.hostname;
}

function normalizePort(key: string, port: string): string {
  if (port === '') throw new Error(`host key ${JSON.stringify(key)} ends in ":" without a port`);
  if (!/^\d+$/.test(port)) throw new Error(`host key ${JSON.stringify(key)}: port "${port}" is not a number`);
  const value = Number(port);
  if (value < 1 || value > 65535) {
    throw new Error(`host key ${JSON.stringify(key)}: port ${port} is out of range (1-65535)`);
  }
  return String(value);
}

/** The host part of a domain key: `[::1]:80` → `[::1]`, `a.com:81` → `a.com`, `a.com` → `a.com`. */
function hostOfDomainKey(domainKey: string): string {
  const colon = domainKey.lastIndexOf(':');
  if (colon === -1 || domainKey.endsWith(']')) return domainKey;
  if (domainKey.startsWith('[')) return domainKey.slice(0, domainKey.lastIndexOf(']') + 1);
  return domainKey.slice(0, colon);
}

/**
 * Values keyed by `host` or `host:port`. A `host:port` key matches only that port; a `host` key
 * matches the host on any port; the most specific key wins. Keys are normalised with
 * {@link normalizeHostKey} on the way in, so `API.example.com` and `api.example.com` are one key.
 *
 * @example
 * const rules = new HostRules([['localhost', 'any port'], ['localhost:5678', 'that port']]);
 * rules.match('localhost:5678'); // 'that port'
 * rules.match('localhost:9000'); // 'any port'
 * rules.match('localhost');      // 'any port'
 */
export class HostRules<T> {
  private readonly rules = new Map<string, T>();

  constructor(entries: Iterable<[string, T]> = []) {
    for (const [key, value] of entries) this.set(key, value);
  }

  /** Add or replace a rule. @throws Error when the key is not a valid host key. */
  set(key: string, value: T): void {
    this.rules.set(normalizeHostKey(key), value);
  }

  /** Remove a rule; false when there was none (or the key is not a valid host key). */
  delete(key: string): boolean {
    const normalized = tryNormalize(key);
    return normalized !== undefined && this.rules.delete(normalized);
  }

  /** The rule stored under exactly this key (after normalising it), not the one that would match. */
  get(key: string): T | undefined {
    const normalized = tryNormalize(key);
    return normalized === undefined ? undefined : this.rules.get(normalized);
  }

  /**
   * The rule that applies to a target: `host:port` if there is one, else `host`.
   * Takes a key as {@link domainKeyOf} makes it (already normal), so no parsing on this hot path.
   */
  match(domainKey: string): T | undefined {
    if (this.rules.has(domainKey)) return this.rules.get(domainKey);
    const host = hostOfDomainKey(domainKey);
    return host === domainKey ? undefined : this.rules.get(host);
  }

  /** Every rule as [normalised key, value], in insertion order. */
  entries(): IterableIterator<[string, T]> {
    return this.rules.entries();
  }
}

function tryNormalize(key: string): string | undefined {
  try {
    return normalizeHostKey(key);
  } catch {
    return undefined;
  }
}
