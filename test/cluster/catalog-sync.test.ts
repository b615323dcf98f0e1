import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { CatalogSync, type CatalogSyncDeps } from '../../src/cluster/catalog-sync.js';
import { FileSettings } from '../../src/config/file-settings.js';
import { validateConfig } from '../../src/config/loader.js';
import { queueConfigSchema, scheduleConfigSchema, sourceConfigSchema } from '../../src/config/schema.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { domainKeyOf } from '../../src/delivery/domain-key.js';
import { Authenticator, hashKey } from '../../src/http/auth.js';
import { EventBus } from '../../src/observe/events.js';
import { createLogger, type Logger } from '../../src/observe/logger.js';
import { QueueRegistry } from '../../src/queues/registry.js';
import { SourceCatalog } from '../../src/routing/source-catalog.js';
import { SourceRegistry } from '../../src/routing/source-registry.js';
import { DueTimer } from '../../src/scheduler/due-timer.js';
import { ScheduleRunner } from '../../src/scheduler/schedule-runner.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ApiKeyRecord, Store } from '../../src/store/store.js';
import { newMessage } from '../store/store-contract.js';
import { describePostgres, postgresUrl, twoNodeStores } from '../store/postgres-support.js';

/**
 * Two stores on one PostgreSQL schema are two nodes. The catalog is changed through node B's parts
 * (as B's API changes it), then node A's parts re-read it: A's memory must end up as the store has it.
 */

const T0 = Date.parse('2026-01-01T00:00:00Z');
const ADMIN_KEY = 'sk_test_admin_0123456789abcdef';
const silent = createLogger('silent');

/** The parts of one node that hold the catalog in memory, built over `store` as Sluice.boot builds them. */
interface NodeParts {
  store: Store;
  clock: ManualClock;
  queues: QueueRegistry;
  auth: Authenticator;
  dispatcher: Dispatcher;
  schedules: ScheduleRunner;
  sources: SourceRegistry;
  sourceCatalog: SourceCatalog;
  sync: CatalogSync;
  /** Every change the queue registry announced, as [queue, change]. */
  changes: [string, 'upsert' | 'delete'][];
}

const started: NodeParts[] = [];

async function startNode(store: Store, logger: Logger = silent, fileSources: Record<string, unknown> = {}): Promise<NodeParts> {
  const clock = new ManualClock(T0);
  const file = await FileSettings.load(store);
  const queues = new QueueRegistry(store);
  await queues.load({}, clock.now(), file, logger);
  for (const tenant of await store.listTenants()) queues.setTenantQuota(tenant.name, tenant);
  const auth = new Authenticator(ADMIN_KEY, () => clock.now());
  for (const key of await store.listApiKeys()) auth.addTenantKey(key.hash, key.tenant);
  // Never started: reload may hint it, and nothing may fire from a test's timer.
  const dueTimer = new DueTimer(clock, async () => {}, async () => undefined);
  dueTimer.stop();
  const deps = {
    config: validateConfig({}),
    clock,
    logger,
    events: new EventBus(),
    store,
    queues,
    dueTimer,
    dispatcher: undefined as Dispatcher | undefined,
    hintDue: () => {},
    domainOf: (url: string) => domainKeyOf(new URL(url)),
    refuseForbiddenTarget: () => {},
  };
  const dispatcher = await Dispatcher.create(deps);
  deps.dispatcher = dispatcher;
  const schedules = new ScheduleRunner(deps);
  await schedules.load({}, file);
  const sources = new SourceRegistry();
  for (const [name, config] of Object.entries(fileSources)) sources.set({ name, tenant: 'default', config: sourceConfigSchema.parse(config), fromFile: true });
  const sourceCatalog = new SourceCatalog(store, sources);
  await sourceCatalog.load();
  const changes: NodeParts['changes'] = [];
  queues.onChange((queue, change) => changes.push([queue.name, change]));
  const sync = new CatalogSync({ store, queues, auth, dispatcher, schedules, sourceCatalog, logger });
  const node = { store, clock, queues, auth, dispatcher, schedules, sources, sourceCatalog, sync, changes };
  started.push(node);
  return node;
}

function queueConfig(input: Record<string, unknown>) {
  return queueConfigSchema.parse(input);
}

function apiKey(id: string, tenant: string): { key: string; record: ApiKeyRecord } {
  const key = `sk_${id}_${'x'.repeat(32)}`;
  return { key, record: { id, hash: hashKey(key), prefix: key.slice(0, 7), tenant, createdAt: T0 } };
}

/** The tenant a key authenticates as, or the refusal's message. */
function whoIs(auth: Authenticator, key: string): string {
  try {
    const principal = auth.principalFor(key);
    return principal.kind === 'admin' ? 'admin' : principal.tenant;
  } catch (error) {
    return (error as Error).message;
  }
}

/** A logger writing real JSON lines into an array, to read the warnings back. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  return { logger: createLogger('warn', destination), lines };
}

describePostgres('catalog sync: node A re-reads what node B changed', () => {
  const twoStores = twoNodeStores();
  afterEach(async () => {
    await Promise.all(started.splice(0).map((node) => node.dispatcher.stop(1_000)));
  });


  it('queues added, changed, paused, resumed and deleted elsewhere: one change event each, none for the rest, counts kept', async () => {
    const [storeA, storeB] = await twoStores();
    const b = await startNode(storeB);
    const keepConfig = queueConfig({ retry: { maxAttempts: 5, backoff: { initialMs: 200, maxMs: 60_000 } }, maxDepth: 1_000 });
    await b.queues.upsert('keep', keepConfig, T0);
    await b.queues.upsert('change', queueConfig({ mode: 'push', url: 'http://a.test/hook' }), T0);
    await b.queues.upsert('pause', queueConfig({ mode: 'push', url: 'http://a.test/hook' }), T0);
    await b.queues.upsert('gone', queueConfig({}), T0);
    const a = await startNode(storeA);
    await storeA.appendMessages([newMessage({ queue: 'keep' }), newMessage({ queue: 'keep' }), newMessage({ queue: 'gone' })], T0);
    await a.queues.refreshCounts();
    const keepBefore = a.queues.get('keep');

    await b.queues.upsert('added', queueConfig({ tenant: 'acme' }), T0);
    await b.queues.upsert('change', queueConfig({ mode: 'push', url: 'http://a.test/hook', maxDepth: 50 }), T0);
    await b.queues.upsert('pause', queueConfig({ mode: 'push', url: 'http://a.test/hook', paused: true }), T0);
    await b.queues.upsert('keep', queueConfig({ retry: { maxAttempts: 5, backoff: { initialMs: 200, maxMs: 60_000 } }, maxDepth: 1_000 }), T0);
    expect((await b.queues.remove('gone', true)).deleted).toBe(true);
    await a.sync.reload(['queues']);

    expect(a.changes.sort()).toEqual([
      ['added', 'upsert'],
      ['change', 'upsert'],
      ['gone', 'delete'],
      ['pause', 'upsert'],
    ]);
    expect(a.queues.get('added')).toMatchObject({ tenant: 'acme', config: { mode: 'pull' } });
    expect(a.queues.get('change')?.config.maxDepth).toBe(50);
    expect(a.queues.get('pause')?.config.paused).toBe(true);
    expect(a.queues.get('gone')).toBeUndefined();
    expect(a.queues.get('keep')).toBe(keepBefore);
    // Nothing was counted again: the two messages of `keep` as of the last refresh, `gone` forgotten.
    expect(a.queues.depth('keep')).toBe(2);
    expect(a.queues.latestCounts().has('gone')).toBe(false);

    a.changes.length = 0;
    await b.queues.upsert('pause', queueConfig({ mode: 'push', url: 'http://a.test/hook', paused: false }), T0);
    await a.sync.reload(['queues']);
    expect(a.changes).toEqual([['pause', 'upsert']]);
    expect(a.queues.get('pause')?.config.paused).toBe(false);

    a.changes.length = 0;
    await a.sync.reload(['queues']);
    expect(a.changes).toEqual([]);
  });

  it("sources made, changed and deleted elsewhere are taken as stored; the file's source of a name stays; a row it cannot read is left as it was", async () => {
    const [storeA, storeB] = await twoStores();
    const b = await startNode(storeB);
    const source = (input: Record<string, unknown>) => sourceConfigSchema.parse(input);
    await b.sourceCatalog.save('keep', 'acme', source({ queue: 'jobs' }), T0);
    await b.sourceCatalog.save('change', 'default', source({ queue: 'jobs' }), T0);
    await b.sourceCatalog.save('gone', 'default', source({ queue: 'jobs' }), T0);
    await b.sourceCatalog.save('filed', 'beta', source({ queue: 'elsewhere' }), T0);
    const a = await startNode(storeA, silent, { filed: { queue: 'file-queue' } });
    a.sources.count('keep', [], false);
    const keepBefore = a.sources.get('keep');
    expect(a.sources.get('filed')).toMatchObject({ fromFile: true, tenant: 'default', config: { queue: 'file-queue' } });

    const routed = source({ routes: [{ name: 'big', queue: 'jobs', when: { path: 'body.total', op: 'gte', value: 100 } }], fallback: 'other' });
    await b.sourceCatalog.save('change', 'default', routed, T0);
    await b.sourceCatalog.save('added', 'acme', source({ queue: 'acme-jobs' }), T0);
    expect(await b.sourceCatalog.remove('gone')).toBe(true);
    await b.sourceCatalog.save('filed', 'beta', source({ queue: 'still-elsewhere' }), T0);
    await a.sync.reload(['sources']);

    const view = (parts: NodeParts) => parts.sources.list().map(({ name, tenant, fromFile, config }) => ({ name, tenant, fromFile, config }));
    expect(view(a)).toEqual([
      { name: 'added', tenant: 'acme', fromFile: false, config: { queue: 'acme-jobs' } },
      { name: 'change', tenant: 'default', fromFile: false, config: routed },
      { name: 'filed', tenant: 'default', fromFile: true, config: { queue: 'file-queue' } },
      { name: 'keep', tenant: 'acme', fromFile: false, config: { queue: 'jobs' } },
    ]);
    expect(view(a).filter((entry) => !entry.fromFile)).toEqual(view(b).filter((entry) => entry.name !== 'filed'));
    // An unchanged source is left as it was, with this node's counts.
    expect(a.sources.get('keep')).toBe(keepBefore);
    expect(a.sources.countsOf('keep').unrouted).toBe(1);

    // A row of a newer version stays as it was here; the rest is adopted.
    const { logger, lines } = capturingLogger();
    const sync = new CatalogSync({ ...a, logger });
    await storeB.pool.query(`UPDATE sources SET config = '{"queue":"jobs","fromTheFuture":true}' WHERE name = 'keep'`);
    expect(await b.sourceCatalog.remove('added')).toBe(true);
    await sync.reload(['sources']);
    expect(a.sources.get('keep')).toBe(keepBefore);
    expect(a.sources.get('added')).toBeUndefined();
    expect(lines).toMatchObject([{ level: 'warn', kind: 'sources', error: expect.stringMatching(/stored source "keep" cannot be read/) }]);
  });

  it('a source saved through one store is signalled to the other nodes as a sources change', async () => {
    const [storeA, storeB] = await twoStores();
    const heard: string[] = [];
    storeB.catalogChanged = (kind) => heard.push(kind);
    await storeB.upsertSource({ name: 's', tenant: 'default', config: { queue: 'q' }, createdAt: T0 });
    await expect(storeB.upsertSource({ name: 's', tenant: 'other', config: { queue: 'q' }, createdAt: T0 })).rejects.toThrow(/taken/);
    expect(await storeB.deleteSource('nothing')).toBe(false);
    expect(await storeB.deleteSource('s')).toBe(true);
    expect(heard).toEqual(['sources', 'sources']);
    expect(await storeA.listSources()).toEqual([]);
  });

  it('keys created elsewhere work here, keys revoked elsewhere stop working here, the admin key stays', async () => {
    const [storeA, storeB] = await twoStores();
    const k1 = apiKey('key_1', 'acme');
    const k2 = apiKey('key_2', 'beta');
    const k3 = apiKey('key_3', 'gamma');
    await storeB.addApiKey(k1.record);
    await storeB.addApiKey(k2.record);
    const a = await startNode(storeA);
    expect(whoIs(a.auth, k1.key)).toBe('acme');
    expect(whoIs(a.auth, k3.key)).toBe('unknown API key');

    expect(await storeB.revokeApiKey('acme', 'key_1')).toBe(k1.record.hash);
    await storeB.addApiKey(k3.record);
    await a.sync.reload(['keys']);

    expect(whoIs(a.auth, k1.key)).toBe('unknown API key');
    expect(whoIs(a.auth, k2.key)).toBe('beta');
    expect(whoIs(a.auth, k3.key)).toBe('gamma');
    expect(whoIs(a.auth, ADMIN_KEY)).toBe('admin');
  });

  it('domain limits changed, added and removed elsewhere apply here; a removed one falls back to the default', async () => {
    const [storeA, storeB] = await twoStores();
    await storeB.upsertDomainLimit({ key: 'a.test', concurrency: 5 });
    await storeB.upsertDomainLimit({ key: 'b.test', ratePerSecond: 2, burst: 3 });
    await storeB.upsertDomainLimit({ key: 'keep.test', concurrency: 4 });
    const a = await startNode(storeA);
    const domainA = a.dispatcher.domain('a.test');
    const domainB = a.dispatcher.domain('b.test');
    expect(domainA.limit.concurrency).toBe(5);
    expect(domainB.limit).toEqual({ concurrency: 10, ratePerSecond: 2, burst: 3 });

    await storeB.upsertDomainLimit({ key: 'a.test', concurrency: 2 });
    await storeB.deleteDomainLimit('b.test');
    await storeB.upsertDomainLimit({ key: 'c.test:8080', concurrency: 7 });
    await a.sync.reload(['limits']);

    expect(a.dispatcher.limits.entries().sort()).toEqual([
      ['a.test', { concurrency: 2 }],
      ['c.test:8080', { concurrency: 7 }],
      ['keep.test', { concurrency: 4 }],
    ]);
    // The domains already known are re-resolved, as a change through this node's API does.
    expect(domainA.limit.concurrency).toBe(2);
    expect(domainB.limit).toEqual({ concurrency: 10, burst: 1 });
    expect(domainB.gcra).toBeUndefined();
    expect(a.dispatcher.domain('c.test:8080').limit.concurrency).toBe(7);
  });

  it("tenants' concurrency limits and quotas as stored; a tenant gone, or without them, has none", async () => {
    const [storeA, storeB] = await twoStores();
    await storeB.upsertTenant({ name: 't1', concurrency: 3, maxDepth: 100, createdAt: T0 });
    await storeB.upsertTenant({ name: 't2', concurrency: 4, maxStoredBytes: 1_000, createdAt: T0 });
    const a = await startNode(storeA);
    const b = await startNode(storeB);
    const concurrency = () => Object.fromEntries(a.dispatcher.tenantStates().map((state) => [state.tenant, state.concurrency]));
    expect(concurrency()).toEqual({ t1: 3, t2: 4 });
    expect(a.queues.tenantQuota('t2')).toEqual({ maxStoredBytes: 1_000 });

    await storeB.upsertTenant({ name: 't1', concurrency: 1, createdAt: T0 });
    // The Store has no way to delete a tenant yet; a tenant missing from the list must still lose its limits.
    await storeB.pool.query('DELETE FROM tenants WHERE name = $1', ['t2']);
    await storeB.upsertTenant({ name: 't3', maxDepth: 5, createdAt: T0 });
    await b.queues.upsert('t3-queue', queueConfig({ tenant: 't3' }), T0);
    await a.sync.reload(['tenants', 'queues']);

    expect(concurrency()).toEqual({ t1: 1, t2: null, t3: null });
    expect(a.queues.tenantQuota('t1')).toBeUndefined();
    expect(a.queues.tenantQuota('t2')).toBeUndefined();
    expect(a.queues.tenantQuota('t3')).toEqual({ maxDepth: 5 });
    const queue = a.queues.get('t3-queue')!;
    expect(() => a.queues.reserve([{ queue, n: 6, bytes: 0 }])).toThrow(/tenant t3 holds its quota of 5 waiting messages/);
    a.queues.release(a.queues.reserve([{ queue, n: 5, bytes: 0 }]));
  });

  it('schedules added, moved by a fire, paused and deleted elsewhere are adopted; nothing fires and nothing is written', async () => {
    const [storeA, storeB] = await twoStores();
    const b = await startNode(storeB);
    await b.queues.upsert('outbound', queueConfig({ mode: 'push', url: 'http://hooks.test/in' }), T0);
    const schedule = (input: Record<string, unknown>) => scheduleConfigSchema.parse({ message: { body: { hello: 'world' } }, ...input });
    await b.schedules.save('s-keep', schedule({ every: '1h' }));
    await b.schedules.save('s-move', schedule({ every: '30s' }));
    await b.schedules.save('s-gone', schedule({ every: '1h' }));
    const a = await startNode(storeA);
    expect(a.schedules.get('s-move')?.record.nextRunAt).toBe(T0 + 30_000);

    // What node B's runner stores when it fires the tick: its one message (in a queue of its own, so
    // that the check below sees that A wrote none), counted.
    expect(await storeB.fireSchedule('s-move', { runAt: T0 + 30_000, runs: 0 }, T0 + 60_000, [newMessage()], T0 + 30_000)).toBe(true);
    await b.schedules.save('s-new', schedule({ cron: '0 9 * * *' }));
    await b.schedules.save('s-keep', schedule({ every: '1h', paused: true }));
    await b.schedules.remove('s-gone');
    const stored = await storeB.listSchedules();
    // Were A to fire during the reload, every schedule would be due.
    a.clock.set(T0 + 48 * 3_600_000);
    await a.sync.reload(['schedules']);

    expect(a.schedules.list().map((live) => live.record).sort((x, y) => x.name.localeCompare(y.name))).toEqual(stored);
    expect(a.schedules.get('s-move')?.record).toMatchObject({ nextRunAt: T0 + 60_000, lastRunAt: T0 + 30_000, runs: 1 });
    expect(a.schedules.get('s-new')?.config.cron).toBe('0 9 * * *');
    expect(a.schedules.get('s-keep')?.record.paused).toBe(true);
    expect(a.schedules.get('s-gone')).toBeUndefined();
    expect(a.schedules.nextRunAt()).toBe(T0 + 60_000);
    expect(await storeA.listSchedules()).toEqual(stored);
    expect((await storeA.listMessages({ queue: 'outbound', limit: 10 })).messages).toEqual([]);
  });

  it('a reload asked for while one runs runs once more afterwards, and its promise waits for it', async () => {
    const [storeA, storeB] = await twoStores();
    const a = await startNode(storeA);
    const b = await startNode(storeB);
    // A call with nothing to do ends at once and leaves the way clear for the next.
    await a.sync.reload([]);
    const key = apiKey('key_late', 'acme');
    await b.queues.upsert('late', queueConfig({}), T0);
    await storeB.addApiKey(key.record);
    let asked: Promise<void> | undefined;
    // Asked for during the queues pass, after it read the store: only a second pass can see the key.
    a.queues.onChange((queue) => {
      if (queue.name === 'late') asked = a.sync.reload(['keys']);
    });
    await a.sync.reload(['queues']);
    expect(asked).toBeDefined();
    expect(whoIs(a.auth, key.key)).toBe('acme');
    await asked;
    expect(whoIs(a.auth, key.key)).toBe('acme');
  });

  it('a failed reload is logged, never thrown, and retried with the next call; rows it cannot read are reported and left alone', async () => {
    const [storeA, storeB] = await twoStores();
    const { logger, lines } = capturingLogger();
    const a = await startNode(storeA);
    const b = await startNode(storeB);
    const closed = await PostgresStore.open({ connectionString: postgresUrl, schema: storeA.schema, poolSize: 1 });
    await closed.close();
    const deps: { -readonly [K in keyof CatalogSyncDeps]: CatalogSyncDeps[K] } = { ...a, store: closed, logger };
    const sync = new CatalogSync(deps);
    const key = apiKey('key_new', 'acme');
    await storeB.addApiKey(key.record);

    await expect(sync.reload(['keys'])).resolves.toBeUndefined();
    expect(whoIs(a.auth, key.key)).toBe('unknown API key');
    expect(lines).toMatchObject([{ level: 'warn', message: expect.stringMatching(/catalog reload failed/), kind: 'keys' }]);

    deps.store = storeA;
    await sync.reload(['limits']);
    expect(whoIs(a.auth, key.key)).toBe('acme');

    // A row written by a newer version (a setting this one does not know) stays as it was; the rest is adopted.
    await b.queues.upsert('odd', queueConfig({}), T0);
    await sync.reload(['queues']);
    await storeB.pool.query(`UPDATE queues SET config = '{"mode":"pull","fromTheFuture":true}' WHERE name = 'odd'`);
    await b.queues.upsert('fine', queueConfig({}), T0);
    lines.length = 0;
    await sync.reload(['queues']);
    expect(a.queues.get('odd')?.config.mode).toBe('pull');
    expect(a.queues.get('fine')).toBeDefined();
    expect(lines).toMatchObject([{ level: 'warn', kind: 'queues', error: expect.stringMatching(/stored queue "odd" cannot be read/) }]);
  });
});

it('SQLite: a reload with nothing changed announces no change, for the node that wrote the queues and after a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sync-'));
  const store = new SqliteStore(join(dir, 'sluice.db'), 'fsync');
  try {
    const writer = await startNode(store);
    await writer.queues.upsert('plain', queueConfig({}), T0);
    await writer.queues.upsert('shaped', queueConfig({
      mode: 'push',
      url: 'http://a.test/hook',
      ordering: 'strict',
      tenant: 'acme',
      retry: { maxAttempts: 3, backoff: { initialMs: 100, maxMs: 5_000, multiplier: 3 }, retryOn: [500, 503] },
      timeouts: { connectMs: 1_000 },
      signingSecret: 'whsec_c2VjcmV0',
      paused: true,
    }), T0);
    writer.changes.length = 0;
    expect(await writer.queues.reload()).toEqual([]);
    expect(writer.changes).toEqual([]);

    const restarted = await startNode(store);
    expect(await restarted.queues.reload()).toEqual([]);
    expect(restarted.changes).toEqual([]);
    expect(restarted.queues.get('shaped')?.config).toEqual(writer.queues.get('shaped')?.config);
  } finally {
    await Promise.all(started.splice(0).map((node) => node.dispatcher.stop(1_000)));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
