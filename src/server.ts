/**
 * `sluice/server`: a Sluice node in your own process, for the tests of an application that talks to
 * Sluice. The node is the one `sluice start` runs, on its own SQLite file.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { resolveAdminKey } from './admin-key.js';
import { SluiceClient } from './client/client.js';
import type { Clock } from './clock.js';
import { completeConfig } from './config/loader.js';
import type { configSchema } from './config/schema.js';
import { Sluice } from './sluice.js';

export { ConfigError } from './config/loader.js';
export type { Clock } from './clock.js';

/** What sluice.yaml holds, as an object: the same schema validates it (unknown keys are refused). */
export type SluiceConfigInput = z.input<typeof configSchema>;

export interface StartSluiceOptions {
  /** Where the database (and a generated admin key) live. Default: a new temp dir, removed by `stop()`. */
  dataDir?: string;
  /** The configuration, as sluice.yaml would hold it. Default: a pull queue `default` behind a source `default`. */
  config?: SluiceConfigInput;
  /** Default: `config.server.port`, else 0 (any free port; read `url`). */
  port?: number;
  /** Default: `config.server.host`, else 127.0.0.1. */
  host?: string;
  /** At least 16 characters. Default: the one stored in the data dir, or a new one stored there. */
  adminKey?: string;
  /**
   * Where `${VAR}` in configuration strings is read from. Default: nothing, so that the process's own
   * `SLUICE_*` variables never change an embedded node; pass `process.env` to use them.
   */
  env?: Record<string, string | undefined>;
  /** A clock of your own, for tests that move time. */
  clock?: Clock;
}

export interface RunningSluice {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  adminKey: string;
  dataDir: string;
  /** A client of this node with the admin key. */
  client: SluiceClient;
  /** Stop gracefully: finish the commit in progress, hand back claims, close the database. */
  stop(): Promise<void>;
}

/**
 * Start a Sluice node in this process and resolve once it listens. Logs go to stdout at `warn`
 * unless `config.log.level` says otherwise. Throws ConfigError for a configuration `sluice start`
 * would refuse.
 *
 * @example
 * import { startSluice } from 'sluice/server';
 *
 * const sluice = await startSluice({
 *   config: { queues: { orders: { mode: 'pull' } }, sources: { shop: { queue: 'orders' } } },
 * });
 * await fetch(`${sluice.url}/in/shop`, { method: 'POST', body: '{"order":1}' });
 * const { messages } = await sluice.client.pull('orders', { waitMs: 1000 });
 * await sluice.stop();
 */
export async function startSluice(options: StartSluiceOptions = {}): Promise<RunningSluice> {
  const ownDir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'sluice-')) : undefined;
  const dataDir = options.dataDir ?? ownDir!;
  try {
    const config = options.config ?? {};
    const raw = { ...config, log: { level: 'warn', ...config.log } };
    const env = options.adminKey === undefined ? { ...options.env } : { ...options.env, SLUICE_ADMIN_KEY: options.adminKey };
    const overrides = {
      dataDir,
      port: options.port ?? config.server?.port ?? 0,
      host: options.host ?? config.server?.host ?? '127.0.0.1',
    };
    const loaded = completeConfig(raw, 'startSluice config', overrides, env, process.cwd());
    const adminKey = resolveAdminKey(loaded, () => {});
    const app = await Sluice.start({ loaded: { ...loaded, adminKey }, clock: options.clock, announce: () => {} });
    return running(app, adminKey, dataDir, ownDir);
  } catch (error) {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    throw error;
  }
}

function running(app: Sluice, adminKey: string, dataDir: string, ownDir: string | undefined): RunningSluice {
  let stopped: Promise<void> | undefined;
  return {
    url: app.url,
    adminKey,
    dataDir,
    client: new SluiceClient({ url: app.url, key: adminKey }),
    stop() {
      stopped ??= app.stop().finally(() => {
        if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      });
      return stopped;
    },
  };
}
