import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { parseVaultKey, parseVaultKeys, type VaultKey } from '../secrets/vault-key.js';
import { configSchema, type SluiceConfig } from './schema.js';

/** Thrown when configuration cannot be used; the message names the offending path. */
export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** What the command line and environment may override. */
export interface ConfigOverrides {
  configPath?: string;
  host?: string;
  port?: number;
  dataDir?: string;
}

/** A validated configuration plus the values that live outside sluice.yaml. */
export interface LoadedConfig {
  config: SluiceConfig;
  /** Where the SQLite database and the generated admin key live. */
  dataDir: string;
  sqlitePath: string;
  /** From SLUICE_ADMIN_KEY; undefined means "use the stored one, or generate it". */
  adminKey?: string;
  /**
   * The vault's keys from SLUICE_SECRET_KEY (first, the one that seals) and SLUICE_SECRET_KEY_PREVIOUS
   * (older ones that only open); undefined means "use the key file of the data dir, or make it"
   * (SQLite only: secrets/keyring.ts).
   */
  vaultKeys?: VaultKey[];
  /** The file the configuration came from, if any. */
  source?: string;
}

/**
 * Load configuration: `sluice.yaml` (from --config, SLUICE_CONFIG, or ./sluice.yaml when present),
 * then environment, then flags. `${VAR}` in any string value is replaced from the environment.
 */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  const path = findConfigFile(overrides.configPath ?? env.SLUICE_CONFIG, cwd);
  const raw = path === undefined ? undefined : readYaml(path);
  return { ...completeConfig(raw, path ?? 'configuration', overrides, env, cwd), source: path };
}

/**
 * A configuration given as an object — what sluice.yaml holds, or undefined for none at all —
 * completed as a file's is: `${VAR}` replaced, environment and overrides applied, validated (errors
 * name `origin`), implicit queues added.
 */
export function completeConfig(
  raw: Record<string, unknown> | undefined,
  origin: string,
  overrides: ConfigOverrides,
  env: NodeJS.ProcessEnv,
  cwd: string,
): LoadedConfig {
  const interpolated = interpolateEnv(raw ?? {}, env, []);
  applyOverrides(interpolated, overrides, env);
  if (env.SLUICE_DATABASE_URL) {
    checkPostgresUrl(env.SLUICE_DATABASE_URL, 'SLUICE_DATABASE_URL');
    const storage = (interpolated.storage ??= {}) as Record<string, unknown>;
    if (typeof storage === 'object') storage.postgres = env.SLUICE_DATABASE_URL;
  }
  if (env.SLUICE_REDIS_URL) {
    const limits = (interpolated.limits ??= {}) as Record<string, unknown>;
    if (typeof limits === 'object') limits.redis = env.SLUICE_REDIS_URL;
  }
  const config = validateConfig(interpolated, origin);
  if (config.storage.postgres) checkPostgresUrl(config.storage.postgres, 'storage.postgres');
  if (config.limits.redis) checkRedis(config, env.SLUICE_REDIS_URL ? 'SLUICE_REDIS_URL' : 'limits.redis');
  addImplicitQueues(config, raw === undefined);
  const dataDir = resolve(cwd, overrides.dataDir ?? env.SLUICE_DATA_DIR ?? './data');
  const sqlitePath = config.storage.sqlite ? resolve(cwd, config.storage.sqlite) : join(dataDir, 'sluice.db');
  return { config, dataDir, sqlitePath, adminKey: adminKeyFrom(env), vaultKeys: vaultKeysFrom(env) };
}

/** The vault's keys from the environment, when SLUICE_SECRET_KEY is set; a malformed key stops the start (its text is never shown). */
function vaultKeysFrom(env: NodeJS.ProcessEnv): VaultKey[] | undefined {
  const current = env.SLUICE_SECRET_KEY;
  const previous = env.SLUICE_SECRET_KEY_PREVIOUS;
  if (!current) {
    if (previous) throw new ConfigError('SLUICE_SECRET_KEY_PREVIOUS: only with SLUICE_SECRET_KEY, the key that seals from now on');
    return undefined;
  }
  const read = (origin: string, parse: () => VaultKey[]): VaultKey[] => {
    try {
      return parse();
    } catch (error) {
      throw new ConfigError(`${origin}: ${(error as Error).message}`);
    }
  };
  return [...read('SLUICE_SECRET_KEY', () => [parseVaultKey(current)]), ...read('SLUICE_SECRET_KEY_PREVIOUS', () => parseVaultKeys(previous ?? ''))];
}

/** Fewer characters can be guessed by an attacker who can reach the API; generated keys have far more. */
export const MIN_ADMIN_KEY_LENGTH = 16;

/** The admin key from SLUICE_ADMIN_KEY, when set; a key too short to be safe stops the start. */
function adminKeyFrom(env: NodeJS.ProcessEnv): string | undefined {
  const key = env.SLUICE_ADMIN_KEY;
  if (!key) return undefined;
  checkAdminKey(key, 'SLUICE_ADMIN_KEY');
  return key;
}

/** @throws ConfigError naming `origin` when the key is shorter than MIN_ADMIN_KEY_LENGTH (its value is never shown). */
export function checkAdminKey(key: string, origin: string): void {
  if (key.length >= MIN_ADMIN_KEY_LENGTH) return;
  throw new ConfigError(`${origin}: the admin key has ${key.length} characters; use at least ${MIN_ADMIN_KEY_LENGTH} (or unset it to have one generated)`);
}

/** Validate a plain object against the schema; throws ConfigError naming every bad path. */
export function validateConfig(value: unknown, origin = 'configuration'): SluiceConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(`invalid ${origin}:\n${formatIssues(result.error.issues)}`);
}

/** One line per problem: `queues.orders.mode: Invalid option ...`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      const at = issue.path.length > 0 ? issue.path.join('.') : '(root)';
      return `  ${at}: ${issue.message}${keys}`;
    })
    .join('\n');
}

/**
 * Limits in Redis are shared by nodes that share their messages: without PostgreSQL there is one
 * node, and nothing to share them with (a second node on its own SQLite would be a second cluster).
 */
function checkRedis(config: SluiceConfig, origin: string): void {
  const url = config.limits.redis!;
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigError(`${origin}: not a redis:// or rediss:// URL`);
  if (!config.storage.postgres) {
    throw new ConfigError(`${origin}: limits shared in Redis need the nodes to share PostgreSQL too (SLUICE_DATABASE_URL or storage.postgres); one node on SQLite keeps its limits in memory`);
  }
  if (config.limits.perNode) throw new ConfigError(`${origin}: limits.perNode and Redis exclude each other: with Redis the limits are the cluster's`);
}

/** A URL PostgreSQL's client can use: postgres:// or postgresql://. */
function checkPostgresUrl(url: string, origin: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol === 'postgres:' || parsed?.protocol === 'postgresql:') return;
  throw new ConfigError(`${origin}: not a postgres:// URL`);
}

function findConfigFile(given: string | undefined, cwd: string): string | undefined {
  if (given) {
    const path = resolve(cwd, given);
    if (!existsSync(path)) throw new ConfigError(`configuration file not found: ${path}`);
    return path;
  }
  const implicit = resolve(cwd, 'sluice.yaml');
  return existsSync(implicit) ? implicit : undefined;
}

function readYaml(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${path}: the top level must be a mapping`);
  return parsed as Record<string, unknown>;
}

/** Replace `${VAR}` in every string; a missing variable is an error naming where it was used. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: string[]): any {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, variable: string) => {
      const found = env[variable];
      if (found === undefined) throw new ConfigError(`${path.join('.') || '(root)'}: environment variable ${variable} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateEnv(item, env, [...path, String(index)]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, env, [...path, key])]));
  }
  return value;
}

function applyOverrides(raw: Record<string, any>, overrides: ConfigOverrides, env: NodeJS.ProcessEnv): void {
  const server = (raw.server ??= {});
  if (typeof server !== 'object') return; // the schema will name it
  const host = overrides.host ?? env.SLUICE_HOST;
  if (host) server.host = host;
  const port = overrides.port ?? parsePort(env.SLUICE_PORT);
  if (port !== undefined) server.port = port;
  if (env.SLUICE_LOG_LEVEL) raw.log = { ...(raw.log ?? {}), level: env.SLUICE_LOG_LEVEL };
  if (env.SLUICE_LIMITS_PER_NODE !== undefined && env.SLUICE_LIMITS_PER_NODE !== '') {
    const limits = (raw.limits ??= {});
    if (typeof limits === 'object') limits.perNode = parseFlag(env.SLUICE_LIMITS_PER_NODE, 'SLUICE_LIMITS_PER_NODE');
  }
}

function parseFlag(value: string, origin: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${origin}: expected true or false, got ${JSON.stringify(value)}`);
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`SLUICE_PORT: not a port number: ${value}`);
  return port;
}

/**
 * With no configuration at all, `curl -d '{}' localhost:7070/in/default` must work at once: a pull queue
 * `default` behind a source `default`. The push queue `outbound` is where POST /v1/messages goes by default.
 */
function addImplicitQueues(config: SluiceConfig, noFile: boolean): void {
  const bare = noFile || (Object.keys(config.queues).length === 0 && Object.keys(config.sources).length === 0);
  if (bare && !config.queues.default) config.queues.default = queueDefaults('pull');
  if (bare && !config.sources.default) config.sources.default = { queue: 'default' };
  if (!config.queues.outbound) config.queues.outbound = queueDefaults('push');
}

function queueDefaults(mode: 'pull' | 'push') {
  return configSchema.shape.queues.parse({ q: { mode } }).q!;
}
