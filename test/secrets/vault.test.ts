import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/loader.js';
import { Keyring, VAULT_KEY_FILE } from '../../src/secrets/keyring.js';
import { openValue, sealValue } from '../../src/secrets/seal.js';
import { generateVaultKey, parseVaultKey } from '../../src/secrets/vault-key.js';
import { SecretVault } from '../../src/secrets/vault.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { StoredMessage } from '../../src/store/types.js';
import { fillSecrets, hasSecretSlots, placeSecrets, scrubSecrets, secretNamesOf } from '../../src/templates/secret-slots.js';
import { sentinelOf } from '../../src/templates/render.js';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-vault-'));
  dirs.push(dir);
  return dir;
}

const clock = { now: () => 1_000 };

describe('sealing', () => {
  it('opens only under its key, tenant and name', () => {
    const key = generateVaultKey();
    const sealed = sealValue(key.key, 'acme', 'api_token', 'tok_123');
    expect(openValue(key.key, 'acme', 'api_token', sealed)).toBe('tok_123');
    expect(sealed).not.toContain('tok_123');
    expect(sealValue(key.key, 'acme', 'api_token', 'tok_123')).not.toBe(sealed); // a fresh nonce each time
    expect(() => openValue(key.key, 'other', 'api_token', sealed)).toThrow();
    expect(() => openValue(key.key, 'acme', 'other', sealed)).toThrow();
    expect(() => openValue(generateVaultKey().key, 'acme', 'api_token', sealed)).toThrow();
    const tampered = Buffer.from(sealed, 'base64');
    tampered[14]! ^= 1;
    expect(() => openValue(key.key, 'acme', 'api_token', tampered.toString('base64'))).toThrow();
  });

  it('reads keys as base64 of 32 bytes, and refuses anything else without repeating it', () => {
    const text = Buffer.alloc(32, 7).toString('base64');
    expect(parseVaultKey(text).key).toEqual(Buffer.alloc(32, 7));
    expect(parseVaultKey(Buffer.alloc(32, 7).toString('base64url')).id).toBe(parseVaultKey(text).id);
    expect(parseVaultKey(text).id).toMatch(/^[0-9a-f]{16}$/);
    for (const bad of ['', 'short', Buffer.alloc(16).toString('base64'), 'not base64 at all!!']) {
      expect(() => parseVaultKey(bad)).toThrow(/base64 of 32 random bytes/);
    }
    try {
      parseVaultKey('hunter2-hunter2');
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('takes SLUICE_SECRET_KEY and SLUICE_SECRET_KEY_PREVIOUS from the environment, refusing a malformed one by name', () => {
    const dir = tempDir();
    const current = Buffer.alloc(32, 1).toString('base64');
    const previous = Buffer.alloc(32, 2).toString('base64');
    const loaded = loadConfig({ dataDir: join(dir, 'data') }, { SLUICE_SECRET_KEY: current, SLUICE_SECRET_KEY_PREVIOUS: previous }, dir);
    expect(loaded.vaultKeys!.map((key) => key.id)).toEqual([parseVaultKey(current).id, parseVaultKey(previous).id]);
    expect(() => loadConfig({}, { SLUICE_SECRET_KEY: 'nope-nope-nope' }, dir)).toThrow(/^SLUICE_SECRET_KEY: must be the base64/);
    expect(() => loadConfig({}, { SLUICE_SECRET_KEY: current, SLUICE_SECRET_KEY_PREVIOUS: 'x' }, dir)).toThrow(/^SLUICE_SECRET_KEY_PREVIOUS: /);
    expect(() => loadConfig({}, { SLUICE_SECRET_KEY_PREVIOUS: previous }, dir)).toThrow(/only with SLUICE_SECRET_KEY/);
  });
});

describe('the key file', () => {
  it('is made once in the data dir with mode 0600, and read back', () => {
    const dir = tempDir();
    const loaded = loadConfig({ dataDir: join(dir, 'data') }, {}, dir);
    const lines: string[] = [];
    const first = Keyring.resolve(loaded, (line) => lines.push(line));
    const path = join(dir, 'data', VAULT_KEY_FILE);
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    expect(lines.join('\n')).toMatch(/back it up/);
    expect(Keyring.resolve(loaded, () => lines.push('again')).current.id).toBe(first.current.id);
    expect(lines).toHaveLength(1);
  });

  it('on PostgreSQL, is never made: the key must come from SLUICE_SECRET_KEY', () => {
    const dir = tempDir();
    const loaded = loadConfig({ dataDir: join(dir, 'data') }, { SLUICE_DATABASE_URL: 'postgres://127.0.0.1:1/x' }, dir);
    expect(() => Keyring.resolve(loaded, () => {})).toThrow(/^SLUICE_SECRET_KEY: on PostgreSQL every node needs the same vault key/);
  });
});

describe('the vault', () => {
  function vaultOn(dir: string): { vault: SecretVault; store: SqliteStore } {
    const store = new SqliteStore(join(dir, 'sluice.db'), 'os');
    stores.push(store);
    const loaded = loadConfig({ dataDir: dir }, {}, dir);
    return { vault: new SecretVault(store, Keyring.resolve(loaded, () => {}), clock), store };
  }

  it('stores only seals, lists names and times, and reveals per tenant', async () => {
    const dir = tempDir();
    const { vault, store } = vaultOn(dir);
    expect(await vault.put('acme', 'api_token', 'tok_acme_123')).toBe(true);
    expect(await vault.put('beta', 'api_token', 'tok_beta_456')).toBe(true);
    expect(await vault.put('acme', 'api_token', 'tok_acme_789')).toBe(false);
    const rows = await store.listSecrets();
    expect(JSON.stringify(rows)).not.toMatch(/tok_/);
    expect(vault.list('acme').map((secret) => secret.name)).toEqual(['api_token']);
    expect(vault.list().map((secret) => secret.tenant)).toEqual(['acme', 'beta']);
    expect(vault.reveal('acme', 'api_token')).toEqual({ ok: true, value: 'tok_acme_789' });
    expect(vault.reveal('beta', 'api_token')).toEqual({ ok: true, value: 'tok_beta_456' });
    const missing = vault.reveal('gamma', 'api_token');
    expect(missing).toMatchObject({ ok: false, kind: 'missing' });
    expect(await vault.remove('acme', 'api_token')).toBe(true);
    expect(vault.reveal('acme', 'api_token')).toMatchObject({ ok: false, kind: 'missing' });
  });

  it('rotates a key file: a new key, every secret re-sealed under it, the old key gone from the file', async () => {
    const dir = tempDir();
    const { vault, store } = vaultOn(dir);
    await vault.put('acme', 'a', 'value-a');
    await vault.put('beta', 'b', 'value-b');
    const before = vault.keyring.current.id;
    const rotation = await vault.rotateKey();
    expect(rotation).toMatchObject({ generated: true, resealed: 2, remaining: 0 });
    expect(rotation.keyVersion).not.toBe(before);
    expect((await store.listSecrets()).map((row) => row.keyId)).toEqual([rotation.keyVersion, rotation.keyVersion]);
    expect(readFileSync(join(dir, VAULT_KEY_FILE), 'utf8').trim().split('\n')).toHaveLength(1);
    // A node started on the rotated file opens them.
    const again = new SecretVault(store, Keyring.resolve(loadConfig({ dataDir: dir }, {}, dir), () => {}), clock);
    expect(await again.load()).toEqual([]);
    expect(again.reveal('beta', 'b')).toEqual({ ok: true, value: 'value-b' });
  });

  it('with keys from the environment, re-seals what is under a previous key; a key it lacks leaves a secret waiting', async () => {
    const dir = tempDir();
    const store = new SqliteStore(join(dir, 'sluice.db'), 'os');
    stores.push(store);
    const [old, fresh, lost] = [generateVaultKey(), generateVaultKey(), generateVaultKey()];
    await new SecretVault(store, Keyring.of(old), clock).put('acme', 'a', 'value-a');
    await new SecretVault(store, Keyring.of(lost), clock).put('acme', 'z', 'value-z');
    const vault = new SecretVault(store, Keyring.of(fresh, [old]), clock);
    expect((await vault.load()).map((secret) => secret.name)).toEqual(['z']);
    expect(vault.reveal('acme', 'a')).toEqual({ ok: true, value: 'value-a' });
    expect(vault.reveal('acme', 'z')).toMatchObject({ ok: false, kind: 'unavailable' });
    expect(await vault.rotateKey()).toEqual({ keyVersion: fresh.id, generated: false, resealed: 1, remaining: 1 });
    expect(new SecretVault(store, Keyring.of(fresh), clock).reveal('acme', 'a')).toMatchObject({ ok: false }); // not loaded yet
    const onlyFresh = new SecretVault(store, Keyring.of(fresh), clock);
    await onlyFresh.load();
    expect(onlyFresh.reveal('acme', 'a')).toEqual({ ok: true, value: 'value-a' });
  });
});

describe('secret slots', () => {
  const nonce = '0123456789abcdef';
  const sentinels = { nonce, names: ['token', 'pw'] };
  const token = sentinelOf(sentinels, 0);
  const pw = sentinelOf(sentinels, 1);

  function stored(): StoredMessage {
    const placed = placeSecrets(
      {
        queue: 'outbound',
        tenant: 'acme',
        method: 'POST',
        path: `/x/${token}`,
        query: `t=${token}`,
        headers: [
          ['authorization', `Bearer ${token}`],
          ['x-literal', '{{ secrets.token }}'],
        ],
        body: Buffer.from(JSON.stringify({ a: token, b: `pw:${pw}`, c: '{{ secrets.pw }}' })),
        url: `https://api.example.com/x/${token}?t=${token}`,
        domain: 'api.example.com',
        receivedAt: 1,
        deliverAt: 1,
        origin: 'api',
      },
      sentinels,
      false,
    );
    return { ...placed, id: '1', state: 'ready', priority: 5, attempts: 0, updatedAt: 1 };
  }

  it('stores placeholders where the secrets go, and fills exactly those at send, encoded for where they stand', () => {
    const message = stored();
    expect(message.url).toBe('https://api.example.com/x/{{ secrets.token }}?t={{ secrets.token }}');
    expect(message.path).toBe('/x/{{ secrets.token }}');
    expect(hasSecretSlots(message)).toBe(true);
    expect(secretNamesOf(message)).toEqual(['token', 'pw']);
    const values: Record<string, string> = { token: 'a/b "c"', pw: 'p\\w' };
    const filled = fillSecrets(message, (name) => ({ ok: true, value: values[name]! }));
    if (!filled.ok) throw new Error(filled.message);
    expect(filled.message.url).toBe('https://api.example.com/x/a%2Fb%20%22c%22?t=a%2Fb%20%22c%22');
    expect(filled.message.headers).toEqual([
      ['authorization', 'Bearer a/b "c"'],
      ['x-literal', '{{ secrets.token }}'],
    ]);
    expect(JSON.parse(filled.message.body.toString())).toEqual({ a: 'a/b "c"', b: 'pw:p\\w', c: '{{ secrets.pw }}' });
    expect(filled.values.sort()).toEqual(['a/b "c"', 'p\\w']);
  });

  it('fails naming the secret, never its value: missing, or a line break bound for a header', () => {
    const missing = fillSecrets(stored(), (name) => (name === 'pw' ? { ok: false, kind: 'missing', message: `secret "${name}" is not in the vault` } : { ok: true, value: 'tok' }));
    expect(missing).toMatchObject({ ok: false, kind: 'missing', message: 'secret "pw" is not in the vault' });
    const split = fillSecrets(stored(), () => ({ ok: true, value: 'evil\r\nx-injected: 1' }));
    expect(split).toMatchObject({ ok: false });
    if (!split.ok) expect(split.message).not.toContain('evil');
  });

  it('scrubs the exact values from an answer: raw, base64, percent-encoded, and cut off at the end', () => {
    const secret = 'tok_live_Abc123/xyz+';
    const answer = `echo ${secret} b64=${Buffer.from(secret).toString('base64')} url=${encodeURIComponent(secret)} json=${JSON.stringify(secret)} tail=${secret.slice(0, 9)}`;
    const scrubbed = scrubSecrets(answer, [secret]);
    expect(scrubbed).not.toContain('tok_live');
    expect(scrubbed).not.toContain(Buffer.from(secret).toString('base64').slice(0, 12));
    expect(scrubbed).toContain('echo [secret]');
    expect(scrubSecrets('abc nothing here', ['abc'])).toBe('abc nothing here'); // too short to scrub
  });
});
