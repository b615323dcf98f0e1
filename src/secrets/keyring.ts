import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, type LoadedConfig } from '../config/loader.js';
import { formatVaultKey, generateVaultKey, parseVaultKeys, type VaultKey } from './vault-key.js';

/** The vault key file in the data dir (SQLite without SLUICE_SECRET_KEY): one key a line, the current one first. */
export const VAULT_KEY_FILE = 'secret.key';

/**
 * The keys a node's vault holds: the current one, which seals, and previous ones, which only open
 * secrets sealed before a rotation.
 *
 * Where they come from:
 * - `SLUICE_SECRET_KEY` (the current key) and `SLUICE_SECRET_KEY_PREVIOUS` (older ones, comma
 *   separated): required on PostgreSQL, where every node must hold the same keys. On SQLite a key
 *   file left in the data dir is read too, as previous keys, so moving from the file to the
 *   environment loses nothing.
 * - Else (SQLite only): `secret.key` in the data dir, mode 0600, made at the first start. Such a
 *   node rotates its key itself (rotateInFile).
 */
export class Keyring {
  private constructor(
    private currentKey: VaultKey,
    private previousKeys: VaultKey[],
    /** The key file this keyring owns and rewrites on rotation; undefined when the keys come from the environment. */
    readonly file: string | undefined,
  ) {}

  /**
   * The keys of a node, from its environment or its data dir, making the key file when there is
   * none. Throws ConfigError naming the file when it cannot be read.
   */
  static resolve(loaded: LoadedConfig, announce: (line: string) => void): Keyring {
    const path = join(loaded.dataDir, VAULT_KEY_FILE);
    const fromEnv = loaded.vaultKeys;
    const onSqlite = !loaded.config.storage.postgres;
    const inFile = onSqlite && existsSync(path) ? readKeyFile(path) : [];
    if (fromEnv && fromEnv.length > 0) return new Keyring(fromEnv[0]!, distinct([...fromEnv.slice(1), ...inFile], fromEnv[0]!), undefined);
    if (!onSqlite) throw new ConfigError('SLUICE_SECRET_KEY: on PostgreSQL every node needs the same vault key from SLUICE_SECRET_KEY (none is generated)');
    if (inFile.length > 0) return new Keyring(inFile[0]!, inFile.slice(1), path);
    const key = generateVaultKey();
    writeKeyFile(path, [key]);
    announce(`Generated the vault key (stored in ${path}, mode 0600): back it up with the database; without it the secrets cannot be read.`);
    return new Keyring(key, [], path);
  }

  /** Keys given as they are (tests, tools). */
  static of(current: VaultKey, previous: VaultKey[] = []): Keyring {
    return new Keyring(current, previous, undefined);
  }

  get current(): VaultKey {
    return this.currentKey;
  }

  get previous(): readonly VaultKey[] {
    return this.previousKeys;
  }

  /** The key of a version, when this node holds it. */
  find(id: string): VaultKey | undefined {
    if (this.currentKey.id === id) return this.currentKey;
    return this.previousKeys.find((key) => key.id === id);
  }

  /**
   * Key file only: a new current key; the old ones stay as previous until forgetPrevious. The file
   * is written (and synced) before the new key seals anything, so a crash in the middle of a
   * rotation leaves a file that opens every secret.
   */
  rotateInFile(): VaultKey {
    if (this.file === undefined) throw new Error('the vault keys come from the environment: they change there');
    const fresh = generateVaultKey();
    writeKeyFile(this.file, [fresh, this.currentKey, ...this.previousKeys]);
    this.previousKeys = [this.currentKey, ...this.previousKeys];
    this.currentKey = fresh;
    return fresh;
  }

  /** Key file only: once every secret is sealed under the current key, the others go from the file. */
  forgetPrevious(): void {
    if (this.file === undefined || this.previousKeys.length === 0) return;
    writeKeyFile(this.file, [this.currentKey]);
    this.previousKeys = [];
  }
}

function readKeyFile(path: string): VaultKey[] {
  try {
    const keys = parseVaultKeys(readFileSync(path, 'utf8'));
    if (keys.length === 0) throw new Error('it holds no key');
    return keys;
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}; restore it from a backup (without it the vault's secrets cannot be read)`, { cause: error });
  }
}

/** Write the key file whole: a temporary file, synced, renamed over the old one, then the directory synced. */
function writeKeyFile(path: string, keys: VaultKey[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, `${keys.map(formatVaultKey).join('\n')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function distinct(keys: VaultKey[], current: VaultKey): VaultKey[] {
  const seen = new Set([current.id]);
  return keys.filter((key) => !seen.has(key.id) && seen.add(key.id));
}
