/**
 * The SSRF guard: which IP addresses a push delivery may connect to.
 *
 * Sluice delivers to URLs that API users choose, so without a guard any tenant could make it
 * talk to the machine's own services, the private network or the cloud metadata endpoint. Every
 * address that is not plainly public is refused unless the target's host is listed in
 * `network.allowPrivate`. The HTTP client applies this to the address it actually connects to
 * (after DNS), which is what defeats DNS rebinding and names like `localtest.me`.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, isIPv4, isIPv6, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { HostRules, normalizeHostKey } from './domain-key.js';

/** What kind of address an IP is, as far as the SSRF guard cares. Everything but `public` is refused by default. */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'multicast'
  | 'metadata'
  | 'unspecified'
  | 'reserved';

/** `true`: every non-public address but cloud metadata is allowed; a list: HostRules keys whose targets may be private. */
export type AllowPrivate = boolean | string[];

type Range = { base: bigint; bits: number; addressClass: AddressClass };

/** IPv4 ranges, most specific first: the first that contains an address names its class. */
const IPV4_RANGES: Range[] = [
  v4('169.254.169.254/32', 'metadata'), // AWS, GCP, Azure, OpenStack
  v4('100.100.100.200/32', 'metadata'), // Alibaba Cloud
  v4('0.0.0.0/32', 'unspecified'), // connects to the local host on Linux
  v4('0.0.0.0/8', 'reserved'),
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('169.254.0.0/16', 'link-local'),
  v4('100.64.0.0/10', 'cgnat'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'), // includes the broadcast address 255.255.255.255
  v4('192.0.0.0/24', 'reserved'), // IETF protocol assignments (Oracle Cloud metadata is 192.0.0.192)
  v4('192.0.2.0/24', 'reserved'), // documentation
  v4('198.18.0.0/15', 'reserved'), // benchmarking
  v4('198.51.100.0/24', 'reserved'), // documentation
  v4('203.0.113.0/24', 'reserved'), // documentation
];

/** IPv6 ranges that are not decided by an embedded IPv4 address, most specific first. */
const IPV6_RANGES: Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('fd00:ec2::254/128', 'metadata'), // AWS over IPv6
  v6('64:ff9b:1::/48', 'private'), // local-use NAT64 (RFC 8215)
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'private'), // deprecated site-local
  v6('fc00::/7', 'private'), // unique local
  v6('ff00::/8', 'multicast'),
  v6('100::/64', 'reserved'), // discard-only
  v6('2001:db8::/32', 'reserved'), // documentation
];

/** IPv6 prefixes whose low 32 bits are an IPv4 address that the packet really goes to. */
const EMBEDDING_V4_IN_LOW_BITS: Range[] = [
  v6('::ffff:0:0/96', 'reserved'), // IPv4-mapped: the kernel connects to the IPv4 address itself
  v6('64:ff9b::/96', 'reserved'), // NAT64 well-known prefix: the gateway forwards to the IPv4 address
];

const SIX_TO_FOUR = v6('2002::/16', 'reserved');
const GLOBAL_UNICAST = v6('2000::/3', 'public');

/**
 * Classify an IPv4 or IPv6 address (zone ids like `%eth0` allowed). IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`) and the NAT64 well-known prefix (`64:ff9b::/96`) are
 * classified by the IPv4 address they carry; 6to4 (`2002::/16`) too when that address is not public.
 * IPv6 outside `2000::/3` that no rule names is `reserved`.
 *
 * @throws Error when `ip` is not an IP address.
 * @example
 * classifyAddress('10.1.2.3');          // 'private'
 * classifyAddress('::ffff:127.0.0.1');  // 'loopback'
 * classifyAddress('169.254.169.254');   // 'metadata'
 */
export function classifyAddress(ip: string): AddressClass {
  if (isIPv4(ip)) return classifyV4(parseV4(ip));
  const withoutZone = ip.split('%')[0] ?? '';
  if (isIPv6(withoutZone)) return classifyV6(parseV6(withoutZone));
  throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
}

function classifyV4(address: bigint): AddressClass {
  return IPV4_RANGES.find((range) => contains(range, address, 32))?.addressClass ?? 'public';
}

function classifyV6(address: bigint): AddressClass {
  if (EMBEDDING_V4_IN_LOW_BITS.some((range) => contains(range, address, 128))) {
    return classifyV4(address & 0xffffffffn);
  }
  const named = IPV6_RANGES.find((range) => contains(range, address, 128));
  if (named) return named.addressClass;
  if (contains(SIX_TO_FOUR, address, 128)) {
    const carried = classifyV4((address >> 80n) & 0xffffffffn);
    if (carried !== 'public') return carried;
  }
  return contains(GLOBAL_UNICAST, address, 128) ? 'public' : 'reserved';
}

function contains(range: Range, address: bigint, width: number): boolean {
  const shift = BigInt(width - range.bits);
  return address >> shift === range.base >> shift;
}

function parseV4(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** An IPv6 address (already validated) as a 128-bit number; handles `::` and a dotted IPv4 tail. */
function parseV6(ip: string): bigint {
  const groups = expandV6Groups(ip);
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

function expandV6Groups(ip: string): number[] {
  const [head = '', tail] = ip.split('::');
  const headGroups = v6Groups(head);
  const tailGroups = tail === undefined ? [] : v6Groups(tail);
  const missing = 8 - headGroups.length - tailGroups.length;
  return [...headGroups, ...new Array<number>(missing).fill(0), ...tailGroups];
}

function v6Groups(part: string): number[] {
  if (part === '') return [];
  return part.split(':').flatMap((piece) => {
    if (!piece.includes('.')) return [parseInt(piece, 16)];
    const v4Value = Number(parseV4(piece));
    return [v4Value >>> 16, v4Value & 0xffff];
  });
}

function v4(cidr: string, addressClass: AddressClass): Range {
  const [ip = '', bits = ''] = cidr.split('/');
  return { base: parseV4(ip), bits: Number(bits), addressClass };
}

function v6(cidr: string, addressClass: AddressClass): Range {
  const [ip = '', bits = ''] = cidr.split('/');
  return { base: parseV6(ip), bits: Number(bits), addressClass };
}

/**
 * Decides whether a delivery to `domainKey` may connect to `ip`. Public addresses always may.
 * Others may when the domain key matches a listed key (`host` on any port, `host:port` on that
 * port only), or when `allowPrivate` is `true` — except cloud metadata addresses, which `true`
 * does not open: only a listed key does, so a blanket switch meant for local development cannot
 * leak instance credentials.
 *
 * @example
 * const guard = new SsrfGuard(['localhost', '127.0.0.1:5678']);
 * guard.isAllowed('localhost:9000', '127.0.0.1');  // true
 * guard.isAllowed('127.0.0.1:5678', '127.0.0.1');  // true
 * guard.isAllowed('127.0.0.1:5679', '127.0.0.1');  // false
 */
export class SsrfGuard {
  private readonly allowAll: boolean;
  private readonly listed: HostRules<true>;

  /** @throws Error when a listed key is not a valid host key. */
  constructor(allow: AllowPrivate) {
    if (typeof allow === 'boolean') {
      this.allowAll = allow;
      this.listed = new HostRules();
      return;
    }
    if (!Array.isArray(allow)) throw new Error('allowPrivate must be a boolean or an array of host keys');
    this.allowAll = false;
    this.listed = new HostRules(allow.map((key, index) => [checkedKey(key, index), true as const]));
  }

  /** True when a delivery to `domainKey` (as made by domainKeyOf) may connect to `ip`. */
  isAllowed(domainKey: string, ip: string): boolean {
    return this.refusal(domainKey, ip) === undefined;
  }

  /** The class of `ip` when the connection must be refused, else undefined. */
  refusal(domainKey: string, ip: string): AddressClass | undefined {
    const addressClass = classifyAddress(ip);
    if (addressClass === 'public') return undefined;
    if (this.listed.match(domainKey) !== undefined) return undefined;
    if (this.allowAll && addressClass !== 'metadata') return undefined;
    return addressClass;
  }
}

function checkedKey(key: unknown, index: number): string {
  if (typeof key !== 'string') throw new Error(`allowPrivate[${index}] must be a string`);
  try {
    return normalizeHostKey(key);
  } catch (error) {
    throw new Error(`allowPrivate[${index}]: ${(error as Error).message}`, { cause: error });
  }
}

/** Thrown (and passed through undici) when the guard refuses an address; the client turns it into `ssrf_refused`. */
export class SsrfRefusedError extends Error {
  readonly code = 'SLUICE_SSRF_REFUSED';

  constructor(
    readonly address: string,
    readonly addressClass: AddressClass,
    readonly domainKey: string,
  ) {
    super(
      `refused to connect to ${address} (${addressClass} address) for ${domainKey}: ` +
        'not allowed by network.allowPrivate',
    );
    this.name = 'SsrfRefusedError';
  }
}

/** Connectors are cached per domain key (each holds a TLS session cache); bound the cache. */
const MAX_CACHED_CONNECTORS = 1024;

/**
 * An undici connector (for `new Agent({ connect })`) that refuses addresses the guard does not
 * allow, failing the connection with {@link SsrfRefusedError}: literal IP hosts before dialling,
 * resolved names inside the lookup that `net.connect` uses, so the checked addresses are the
 * dialled ones. Each domain key gets its own underlying connector because a lookup sees only the
 * host name, while the guard's decision depends on the port too.
 *
 * @param timeoutMs connect timeout (TCP and TLS), undici's `connectTimeout`.
 * @example
 * const agent = new Agent({ connect: guardedConnector(new SsrfGuard(['localhost']), 5000) });
 */
export function guardedConnector(guard: SsrfGuard, timeoutMs: number): buildConnector.connector {
  const byDomainKey = new Map<string, buildConnector.connector>();
  const connectorFor = (domainKey: string): buildConnector.connector => {
    let connector = byDomainKey.get(domainKey);
    if (connector === undefined) {
      if (byDomainKey.size >= MAX_CACHED_CONNECTORS) byDomainKey.delete(byDomainKey.keys().next().value!);
      connector = buildConnector({ timeout: timeoutMs, lookup: guardedLookup(guard, domainKey) });
      byDomainKey.set(domainKey, connector);
    }
    return connector;
  };
  return (options, callback) => {
    const domainKey = connectDomainKey(options.hostname, options.port);
    const refused = literalRefusal(guard, domainKey, options.hostname);
    if (refused) {
      callback(refused, null);
      return;
    }
    connectorFor(domainKey)(options, callback);
  };
}

/** The domain key of what undici is connecting to (it strips IPv6 brackets; `port` is '' for the default). */
function connectDomainKey(hostname: string, port: string): string {
  const host = isIPv6(hostname) ? `[${hostname}]` : hostname.toLowerCase();
  return port === '' ? host : `${host}:${port}`;
}

/** Literal IP hosts are dialled without a lookup, so they are checked here. */
function literalRefusal(guard: SsrfGuard, domainKey: string, hostname: string): SsrfRefusedError | undefined {
  if (isIP(hostname) === 0) return undefined;
  const refusal = guard.refusal(domainKey, hostname);
  return refusal === undefined ? undefined : new SsrfRefusedError(hostname, refusal, domainKey);
}

/**
 * dns.lookup with every address, refusing the connection if any address is not allowed: a name
 * that resolves to one public and one private address must not be a way in.
 */
function guardedLookup(guard: SsrfGuard, domainKey: string): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '');
      const denied = addresses.find((entry) => !guard.isAllowed(domainKey, entry.address));
      if (denied) {
        const refused = new SsrfRefusedError(denied.address, classifyAddress(denied.address), domainKey);
        return callback(refused as NodeJS.ErrnoException, '');
      }
      return answerLookup(options, addresses, callback);
    });
  };
}

function answerLookup(options: LookupOptions, addresses: LookupAddress[], callback: Parameters<LookupFunction>[2]): void {
  if (options.all) return callback(null, addresses);
  const first = addresses[0];
  if (first === undefined) return callback(new Error('the name resolved to no address') as NodeJS.ErrnoException, '');
  callback(null, first.address, first.family);
}
