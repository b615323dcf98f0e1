import { createHash, randomBytes } from 'node:crypto';
import { KEY_BYTES } from './seal.js';

/**
 * Vault keys as text: the base64 of 32 random bytes (`openssl rand -base64 32`), standard or URL-safe
 * alphabet. Each key has a version, its fingerprint: the first 16 hex digits of a SHA-256 of the key
 * under a label of its own. A stored secret records the version of the key that sealed it, so the
 * vault knows which key opens it and a rotation knows which rows it has yet to re-seal; from 64 bits
 * of a hash of a 256-bit random key nothing of the key can be learnt.
 *
 * This file depends on nothing of Sluice, so the config loader can check keys from the environment.
 */

/** One vault key and its version. */
export interface VaultKey {
  /** The key's fingerprint: what a stored secret records as the version that sealed it. */
  readonly id: string;
  readonly key: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * A key from its text. Throws an Error that says what a key looks like and never repeats the text.
 *
 * @example
 * const key = parseVaultKey(process.env.SLUICE_SECRET_KEY!); // from `openssl rand -base64 32`
 */
export function parseVaultKey(text: string): VaultKey {
  const trimmed = text.trim();
  const key = BASE64.test(trimmed) ? Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64') : undefined;
  if (key === undefined || key.length !== KEY_BYTES) {
    throw new Error(`must be the base64 of ${KEY_BYTES} random bytes, as \`openssl rand -base64 32\` prints`);
  }
  return { id: keyFingerprint(key), key };
}

/** Several keys separated by commas, spaces or new lines (the previous keys of a rotation). */
export function parseVaultKeys(text: string): VaultKey[] {
  return text
    .split(/[\s,]+/)
    .filter((part) => part !== '')
    .map(parseVaultKey);
}

/** A new random key. */
export function generateVaultKey(): VaultKey {
  const key = randomBytes(KEY_BYTES);
  return { id: keyFingerprint(key), key };
}

/** The text form of a key, as parseVaultKey reads it. */
export function formatVaultKey(key: VaultKey): string {
  return key.key.toString('base64');
}

function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update('sluice vault key id\u0000').update(key).digest('hex').slice(0, 16);
}
