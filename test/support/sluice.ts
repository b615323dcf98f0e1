import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SluiceClient } from '../../src/client/client.js';
import { loadConfig } from '../../src/config/loader.js';
import type { Clock } from '../../src/clock.js';
import type { Logger } from '../../src/observe/logger.js';
import { Sluice } from '../../src/sluice.js';

export const ADMIN_KEY = 'sk_test_admin_0123456789abcdef';
/** The vault key of nodes on PostgreSQL (every node of a cluster needs the same; on SQLite one is made in the data dir). */
export const SECRET_KEY = Buffer.alloc(32, 0x5a).toString('base64');

export interface TestSluice {
  app: Sluice;
  url: string;
  key: string;
  dir: string;
  client: SluiceClient;
  /** fetch relative to the server, with the admin key unless `key: null`. */
  api(method: string, path: string, body?: unknown, key?: string | null): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

/**
 * Start a real Sluice in this process on 127.0.0.1 port 0, on a fresh SQLite file in a temp dir.
 * `config` is written as sluice.yaml, so it goes through the same loader and schema as a user's.
 */
export async function startSluice(
  config: Record<string, unknown> = {},
  options: { clock?: Clock; dir?: string; logger?: Logger; env?: Record<string, string> } = {},
): Promise<TestSluice> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const yaml = { ...config, server: { port: 0, ...(config.server as object) }, log: { level: 'silent' } };
  writeFileSync(join(dir, 'sluice.yaml'), stringify(yaml));
  const onPostgres = (config.storage as { postgres?: unknown } | undefined)?.postgres !== undefined;
  const env = { SLUICE_ADMIN_KEY: ADMIN_KEY, ...(onPostgres ? { SLUICE_SECRET_KEY: SECRET_KEY } : {}), ...options.env };
  const loaded = loadConfig({ configPath: join(dir, 'sluice.yaml'), dataDir: join(dir, 'data') }, env, dir);
  const app = await Sluice.start({ loaded, clock: options.clock, logger: options.logger, announce: () => {} });
  const url = app.url;
  const api: TestSluice['api'] = async (method, path, body, key = ADMIN_KEY) => {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  let stopped = false;
  return {
    app,
    url,
    key: ADMIN_KEY,
    dir,
    client: new SluiceClient({ url, key: ADMIN_KEY }),
    api,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { eventually } from './eventually.js';

/**
 * The tick times (deliverAt) of the messages created so far by the schedules tick-skip, tick-once and
 * tick-all in the outbound queue, oldest first, by policy.
 */
export async function tickTimes(client: SluiceClient): Promise<Record<'skip' | 'once' | 'all', number[]>> {
  const { messages } = (await client.request('GET', '/v1/messages?queue=outbound&limit=1000')) as { messages: { origin: string; deliverAt: string }[] };
  const ticks: Record<string, number[]> = { skip: [], once: [], all: [] };
  for (const message of messages) ticks[message.origin.replace('schedule:tick-', '')]?.push(Date.parse(message.deliverAt));
  for (const times of Object.values(ticks)) times.sort((a, b) => a - b);
  return ticks as Record<'skip' | 'once' | 'all', number[]>;
}
