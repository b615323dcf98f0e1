import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkAdminKey, type LoadedConfig } from './config/loader.js';
import { generateKey } from './http/auth.js';

/**
 * The admin key: SLUICE_ADMIN_KEY when set; else the one stored in the data dir; else a new one,
 * stored there (mode 0600) and announced exactly once. A stored key shorter than 16 characters (edited
 * by hand) stops the start, as a short SLUICE_ADMIN_KEY does.
 */
export function resolveAdminKey(loaded: LoadedConfig, announce: (line: string) => void): string {
  if (loaded.adminKey) return loaded.adminKey;
  const path = join(loaded.dataDir, 'admin.key');
  if (existsSync(path)) {
    const stored = readFileSync(path, 'utf8').trim();
    checkAdminKey(stored, path);
    return stored;
  }
  mkdirSync(loaded.dataDir, { recursive: true });
  const key = generateKey('sk_admin');
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  announce(`Generated an admin key (stored in ${path}; shown only this once):\n\n  ${key}\n`);
  return key;
}
