import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SluiceError } from './errors.js';

/** Who is calling: the admin, or one tenant (which sees only its own queues, messages and schedules). */
export type Principal = { kind: 'admin' } | { kind: 'tenant'; tenant: string };

/** SHA-256 of a key, hex. Keys are stored only in this form. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new random API key: `sk_` + 32 bytes base64url. */
export function generateKey(prefix = 'sk'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/**
 * Checks Bearer keys. The admin key is compared in constant time (both sides hashed to equal length
 * first); tenant keys are looked up by their SHA-256, which reveals nothing about the key through timing.
 */
export class Authenticator {
  private readonly adminHash: Buffer;
  private readonly tenantKeys = new Map<string, string>();
  /**
   * When each tenant key was last used, not yet written: a request only sets a map entry, and the
   * node writes them all in one go about once a minute (takeUsage), keeping storage off the auth path.
   */
  private usage = new Map<string, number>();

  constructor(
    adminKey: string,
    private readonly now: () => number = Date.now,
  ) {
    this.adminHash = createHash('sha256').update(adminKey).digest();
  }

  addTenantKey(hash: string, tenant: string): void {
    this.tenantKeys.set(hash, tenant);
  }

  /** A revoked key: refused from the next request on. */
  removeTenantKey(hash: string): void {
    this.tenantKeys.delete(hash);
    this.usage.delete(hash);
  }

  /**
   * Make the tenant keys exactly these, as stored now (another node created or revoked some): a key
   * not among them is refused from the next request on, as by removeTenantKey. The admin key stays.
   */
  replaceTenantKeys(keys: Iterable<{ hash: string; tenant: string }>): void {
    const fresh = new Map<string, string>();
    for (const { hash, tenant } of keys) fresh.set(hash, tenant);
    for (const hash of [...this.tenantKeys.keys()]) if (!fresh.has(hash)) this.removeTenantKey(hash);
    for (const [hash, tenant] of fresh) this.tenantKeys.set(hash, tenant);
  }

  /** Last use of a key not yet written to storage. */
  lastUsed(hash: string): number | undefined {
    return this.usage.get(hash);
  }

  /** Uses noted since the last call, to be written to storage. */
  takeUsage(): { hash: string; at: number }[] {
    const taken = [...this.usage].map(([hash, at]) => ({ hash, at }));
    this.usage = new Map();
    return taken;
  }

  /** The principal for a request, or a 401. */
  authenticate(req: IncomingMessage): Principal {
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new SluiceError('SLUICE_ERR_UNAUTHORIZED', 'send Authorization: Bearer <key>', { headers: { 'www-authenticate': 'Bearer' } });
    return this.principalFor(match[1]!);
  }

  principalFor(key: string): Principal {
    const digest = createHash('sha256').update(key).digest();
    if (timingSafeEqual(digest, this.adminHash)) return { kind: 'admin' };
    const hash = digest.toString('hex');
    const tenant = this.tenantKeys.get(hash);
    if (tenant !== undefined) {
      this.usage.set(hash, this.now());
      return { kind: 'tenant', tenant };
    }
    throw new SluiceError('SLUICE_ERR_UNAUTHORIZED', 'unknown API key', { headers: { 'www-authenticate': 'Bearer' } });
  }
}

/** Throws 403 unless the principal is the admin. */
export function requireAdmin(principal: Principal): void {
  if (principal.kind !== 'admin') throw new SluiceError('SLUICE_ERR_FORBIDDEN', 'this route needs the admin key');
}

/** May this principal see or change things owned by `tenant`? */
export function canAccess(principal: Principal, tenant: string): boolean {
  return principal.kind === 'admin' || principal.tenant === tenant;
}
