import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';
import type { ResealedSecret, SecretRecord } from '../store/types.js';
import type { Keyring } from './keyring.js';
import { openValue, sealValue } from './seal.js';

/**
 * The vault: each tenant's named secrets, sealed with the node's vault key (seal.ts) before they
 * reach the store, and opened only where a request needs one — a delivery about to be sent, a
 * signature to make or check. A value is never returned by the API, logged, or written anywhere in
 * plain text.
 *
 * Every node holds the sealed rows in memory (a delivery must not wait for the store to find its
 * token) and re-reads them when another node changes one (catalog kind `secrets`). Changes made on
 * this node take effect here at once.
 */

/** What the vault asks of the store. */
export type VaultStore = Pick<Store, 'upsertSecret' | 'listSecrets' | 'deleteSecret' | 'resealSecrets'>;

/** A secret as the API lists it: never its value. */
export interface SecretInfo {
  tenant: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  /** The version (fingerprint) of the key that sealed it. */
  keyVersion: string;
}

/** Why a secret could not be had; `message` names the secret and never holds its value. */
export type SecretFailure =
  /** No such secret in the tenant's vault (deleted, or never made). */
  | { kind: 'missing'; message: string }
  /** Sealed under a key this node does not hold (a rotation not given to this node yet). */
  | { kind: 'unavailable'; message: string }
  /** Its seal does not open (changed outside Sluice). */
  | { kind: 'unreadable'; message: string };

export type Revealed = { ok: true; value: string } | ({ ok: false } & SecretFailure);

/** Where values are read when a request needs one (a delivery, a signature): the vault. */
export type SecretSource = Pick<SecretVault, 'reveal'>;

/** What rotateKey did. */
export interface KeyRotation {
  /** The version of the key every secret is now sealed under. */
  keyVersion: string;
  /** A new key was made (a key file in the data dir); false: the current key came from SLUICE_SECRET_KEY. */
  generated: boolean;
  /** Secrets re-sealed by this call. */
  resealed: number;
  /** Secrets still under another key: sealed under a key this node does not hold, or that did not open. */
  remaining: number;
}

export class SecretVault {
  private readonly records = new Map<string, SecretRecord>();
  /** Changes of this node, one at a time: a rotation never races a PUT sealing with the key it replaces. */
  private serial: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: VaultStore,
    readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  /** Read every stored secret; returns those sealed under a key this node does not hold (to warn of). */
  async load(): Promise<SecretInfo[]> {
    this.replace(await this.store.listSecrets());
    return this.list().filter((secret) => this.keyring.find(secret.keyVersion) === undefined);
  }

  /** Another node changed the vault: take it as stored. */
  async reload(): Promise<Error[]> {
    this.replace(await this.store.listSecrets());
    return [];
  }

  /** Secrets of one tenant (of all, without one), by tenant and name: names and times, never values. */
  list(tenant?: string): SecretInfo[] {
    const found: SecretInfo[] = [];
    for (const record of this.records.values()) {
      if (tenant !== undefined && record.tenant !== tenant) continue;
      found.push({ tenant: record.tenant, name: record.name, createdAt: record.createdAt, updatedAt: record.updatedAt, keyVersion: record.keyId });
    }
    return found.sort((a, b) => compare(a.tenant, b.tenant) || compare(a.name, b.name));
  }

  get(tenant: string, name: string): SecretInfo | undefined {
    return this.list(tenant).find((secret) => secret.name === name);
  }

  has(tenant: string, name: string): boolean {
    return this.records.has(keyOf(tenant, name));
  }

  /** A secret's value, opened now, or why it cannot be had. */
  reveal(tenant: string, name: string): Revealed {
    const record = this.records.get(keyOf(tenant, name));
    if (!record) return { ok: false, kind: 'missing', message: `secret "${name}" is not in the vault of tenant ${tenant}` };
    const key = this.keyring.find(record.keyId);
    if (!key) {
      return {
        ok: false,
        kind: 'unavailable',
        message: `secret "${name}" is sealed under vault key version ${record.keyId}, which this node does not hold (give it in SLUICE_SECRET_KEY_PREVIOUS)`,
      };
    }
    try {
      return { ok: true, value: openValue(key.key, tenant, name, record.sealed) };
    } catch {
      return { ok: false, kind: 'unreadable', message: `secret "${name}" of tenant ${tenant} does not open under its key (was it changed outside Sluice?)` };
    }
  }

  /** Seal and store a value; true when the secret is new. */
  put(tenant: string, name: string, value: string): Promise<boolean> {
    return this.serially(async () => {
      const now = this.clock.now();
      const existing = this.records.get(keyOf(tenant, name));
      const key = this.keyring.current;
      const record: SecretRecord = { tenant, name, sealed: sealValue(key.key, tenant, name, value), keyId: key.id, createdAt: existing?.createdAt ?? now, updatedAt: now };
      await this.store.upsertSecret(record);
      this.records.set(keyOf(tenant, name), record);
      return existing === undefined;
    });
  }

  /** Delete a secret; false when there was none. Messages waiting for it go to dead when their time comes. */
  remove(tenant: string, name: string): Promise<boolean> {
    return this.serially(async () => {
      const deleted = await this.store.deleteSecret(tenant, name);
      this.records.delete(keyOf(tenant, name));
      return deleted;
    });
  }

  /**
   * Re-seal every secret under the current key. With a key file (SQLite, no SLUICE_SECRET_KEY) a new
   * key is made first and the file keeps the old one until every secret is re-sealed. With keys from
   * the environment the current key is SLUICE_SECRET_KEY: the secrets still under a previous key
   * (SLUICE_SECRET_KEY_PREVIOUS) are re-sealed under it. Reads the store, not memory, so a secret
   * another node sealed a moment ago is not missed.
   */
  rotateKey(): Promise<KeyRotation> {
    return this.serially(async () => {
      const generated = this.keyring.file !== undefined;
      if (generated) this.keyring.rotateInFile();
      const current = this.keyring.current;
      const changes: ResealedSecret[] = [];
      for (const record of await this.store.listSecrets()) {
        if (record.keyId === current.id) continue;
        const key = this.keyring.find(record.keyId);
        if (!key) continue;
        let value: string;
        try {
          value = openValue(key.key, record.tenant, record.name, record.sealed);
        } catch {
          continue;
        }
        changes.push({ tenant: record.tenant, name: record.name, from: record.sealed, sealed: sealValue(current.key, record.tenant, record.name, value), keyId: current.id });
      }
      const resealed = await this.store.resealSecrets(changes);
      this.replace(await this.store.listSecrets());
      const remaining = [...this.records.values()].filter((record) => record.keyId !== current.id).length;
      if (remaining === 0) this.keyring.forgetPrevious();
      return { keyVersion: current.id, generated, resealed, remaining };
    });
  }

  private replace(records: SecretRecord[]): void {
    this.records.clear();
    for (const record of records) this.records.set(keyOf(record.tenant, record.name), record);
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.serial.then(work, work);
    this.serial = run.catch(() => {});
    return run;
  }
}

/** NUL cannot occur in a tenant or secret name. */
function keyOf(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
