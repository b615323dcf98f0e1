import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Sealing one secret value: AES-256-GCM from node:crypto, a fresh random 96-bit nonce per seal (the
 * size GCM is specified for), a 128-bit tag. The tenant and the name of the secret are the
 * associated data: they are not encrypted, but a sealed value opens only under the tenant and name
 * it was sealed for, so copying a row to another tenant or name (by hand in the database) does not
 * hand its value to that other name. A seal is stored as base64 of nonce ‖ ciphertext ‖ tag.
 *
 * Nonces: with random 96-bit nonces, NIST SP 800-38D §8.3 bounds one key to 2^32 seals; a vault
 * seals once per PUT and per rotation, far below that.
 */

const ALGORITHM = 'aes-256-gcm';
export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The associated data of a secret: NUL cannot occur in a tenant or secret name, so the pair is unambiguous. */
function associatedData(tenant: string, name: string): Buffer {
  return Buffer.from(`sluice-secret\u0000v1\u0000${tenant}\u0000${name}`, 'utf8');
}

/** Seal `value` for (tenant, name) under `key` (32 bytes). */
export function sealValue(key: Buffer, tenant: string, name: string, value: string): string {
  if (key.length !== KEY_BYTES) throw new Error(`a vault key has ${KEY_BYTES} bytes, got ${key.length}`);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(tenant, name));
  const encrypted = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, encrypted, cipher.getAuthTag()]).toString('base64');
}

/**
 * The value sealed for (tenant, name) under `key`. Throws when the seal does not open: another key,
 * another tenant or name, or bytes changed since it was sealed.
 */
export function openValue(key: Buffer, tenant: string, name: string, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new Error('the sealed value is too short');
  const decipher = createDecipheriv(ALGORITHM, key, bytes.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(tenant, name));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}
