import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/loader.js';
import { Sluice } from '../../src/sluice.js';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { Sink } from '../support/sink.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Nodes of one cluster, in this process, on one PostgreSQL schema. What is checked is what a user
 * sees through the API of each node; nothing asserts how long anything took.
 */
describePostgres('several nodes on one PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  function schema(): string {
    const name = freshSchema();
    cleanups.push(() => dropSchema(name));
    return name;
  }

  async function node(config: Record<string, unknown>, url = postgresUrl): Promise<TestSluice> {
    const { storage, limits, ...rest } = config as { storage: Record<string, unknown>; limits?: Record<string, unknown> };
    const started = await startSluice({ ...rest, storage: { postgres: url, postgresPoolSize: 4, ...storage }, limits: { perNode: true, ...limits } });
    cleanups.push(() => started.stop());
    return started;
  }

  async function sink(): Promise<Sink> {
    const started = await new Sink().start();
    cleanups.push(() => started.stop());
    return started;
  }

  it('refuses a second node while limits could not hold across both, naming the live node', async () => {
    const shared = schema();
    const first = await node({ storage: { postgresSchema: shared }, limits: { perNode: false } });
    await expect(node({ storage: { postgresSchema: shared }, limits: { perNode: false } })).rejects.toThrow(
      new RegExp(`node ${first.app.cluster!.nodeId} \\(${first.url.replace(/[.]/g, '\\.')}\\) is alive on this database.*limits\\.perNode`),
    );
    // Accepting per-node limits on the newcomer alone is not enough: the first did not accept them.
    await expect(node({ storage: { postgresSchema: shared } })).rejects.toThrow(/does not accept per-node limits/);
    await first.stop();
    const [a, b] = await Promise.all([node({ storage: { postgresSchema: shared } }), node({ storage: { postgresSchema: shared } })]);
    expect(a.app.cluster!.nodeId).not.toBe(b.app.cluster!.nodeId);
  });

  it('exactly one node leads; when it stops another takes over, and stats on any node show every node', async () => {
    const shared = schema();
    const nodes = await Promise.all([1, 2, 3].map(() => node({ storage: { postgresSchema: shared } })));
    const leaders = () => nodes.filter((n) => !n.app.stopping && n.app.cluster!.leader);
    await eventually(() => leaders().length === 1, 'one leader');
    const stats = await eventually(async () => {
      const { body } = await nodes[2]!.api('GET', '/v1/stats');
      return body.cluster?.nodes.filter((n: { alive: boolean }) => n.alive).length === 3 ? body : undefined;
    }, 'stats showing three live nodes');
    expect(stats.cluster.node).toBe(nodes[2]!.app.cluster!.nodeId);
    expect(stats.cluster.nodes.map((n: { url: string }) => n.url).sort()).toEqual(nodes.map((n) => n.url).sort());
    const first = leaders()[0]!;
    await first.stop();
    await eventually(() => leaders().length === 1 && leaders()[0] !== first, 'another leader');
    const metrics = await eventually(async () => {
      const text = (await nodes.find((n) => n !== first)!.api('GET', '/metrics')).body as string;
      return /sluice_cluster_nodes\{state="alive"\} 2/.test(text) ? text : undefined;
    }, 'metrics showing two live nodes');
    expect(metrics).toMatch(/sluice_cluster_leader [01]/);
  });

  it('a consumer long-polling one node gets what another node ingested, and a queue made on one node is there on the other', async () => {
    const shared = schema();
    const config = { storage: { postgresSchema: shared }, queues: { inbox: { mode: 'pull' } }, sources: { s: { queue: 'inbox' } } };
    const a = await node(config);
    const b = await node(config);
    const waiting = b.api('POST', '/v1/queues/inbox/pull', { max: 10, waitMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sent = await fetch(`${a.url}/in/s`, { method: 'POST', body: '{"n":1}' });
    expect(sent.status).toBe(202);
    const { id } = (await sent.json()) as { id: string };
    const { body } = await waiting;
    expect(body.messages.map((m: { id: string }) => m.id)).toEqual([id]);

    expect((await a.api('PUT', '/v1/queues/jobs', { mode: 'pull' })).status).toBe(201);
    // b learns of the queue from a's notification (or its periodic catalog read), not from a restart.
    await eventually(async () => (await b.api('POST', '/v1/queues/jobs/pull', { max: 1 })).status === 200, 'the queue on b');
    expect((await a.api('POST', '/v1/queues/jobs/pause')).status).toBe(200);
    await eventually(async () => (await b.api('GET', '/v1/queues/jobs')).body.paused === true, 'the pause seen on b');
  });

  it('a node alone sends no news of new messages; once a second node joins, it does', async () => {
    const shared = schema();
    const heard: Record<string, unknown>[] = [];
    const listener = new pg.Client({ connectionString: postgresUrl });
    await listener.connect();
    cleanups.push(() => listener.end());
    listener.on('notification', (message) => heard.push(JSON.parse(message.payload ?? '{}') as Record<string, unknown>));
    await listener.query(`LISTEN sluice_${shared}`);
    const config = { storage: { postgresSchema: shared }, queues: { inbox: { mode: 'pull' } }, sources: { s: { queue: 'inbox' } } };
    const a = await node(config);
    for (let i = 0; i < 20; i += 1) expect((await fetch(`${a.url}/in/s`, { method: 'POST', body: '{}' })).status).toBe(202);
    // A catalog change still goes out alone (a node joining at that moment must not miss it); it
    // also shows that a's signals reach this listener by the time the check below runs.
    expect((await a.api('PUT', '/v1/queues/jobs', { mode: 'pull' })).status).toBe(201);
    await eventually(() => heard.some((m) => Array.isArray(m.c)), 'the catalog signal');
    expect(heard.filter((m) => m.q !== undefined || m.l !== undefined)).toEqual([]);

    const b = await node(config);
    await eventually(() => heard.some((m) => m.n === b.app.cluster!.nodeId), "b's greeting");
    await eventually(async () => {
      expect((await fetch(`${a.url}/in/s`, { method: 'POST', body: '{}' })).status).toBe(202);
      return heard.some((m) => m.n === a.app.cluster!.nodeId && Array.isArray(m.q) && m.q.includes('inbox'));
    }, 'news of inbox from a');
  });

  it('push messages ingested through two nodes are each delivered once, and a key made on one node works on the other', async () => {
    const shared = schema();
    const target = await sink();
    const config = { storage: { postgresSchema: shared }, network: { allowPrivate: true }, queues: { hooks: { mode: 'push', url: `${target.origin}/in` } }, sources: { s: { queue: 'hooks' } } };
    const a = await node(config);
    const b = await node(config);
    const ids = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const response = await fetch(`${(i % 2 === 0 ? a : b).url}/in/s`, { method: 'POST', body: JSON.stringify({ i }) });
        expect(response.status).toBe(202);
        return ((await response.json()) as { id: string }).id;
      }),
    );
    const bodies = () => target.arrivals.map((r) => r.body.toString());
    await eventually(() => new Set(bodies()).size === 60, 'every message delivered');
    await eventually(async () => (await a.api('GET', '/v1/queues/hooks')).body.depth?.delivered === 60, 'every outcome stored');
    // Each stored message reached the target once: as many arrivals as messages, all distinct.
    expect(bodies().length).toBe(ids.length);
    expect(new Set(bodies()).size).toBe(ids.length);
    expect((await a.api('POST', '/v1/tenants', { name: 'acme' })).status).toBe(201);
    const made = await a.api('POST', '/v1/tenants/acme/keys', {});
    expect(made.status).toBe(201);
    await eventually(async () => (await b.api('GET', '/v1/queues', undefined, made.body.key)).status === 200, 'the key working on b');
  });

  it('a schedule ticks once per cluster, and keeps ticking on another node when the leader stops', async () => {
    const shared = schema();
    const target = await sink();
    const config = {
      storage: { postgresSchema: shared },
      network: { allowPrivate: true },
      schedules: { beat: { every: '1s', message: { url: `${target.origin}/beat` } } },
    };
    const nodes = [await node(config), await node(config)];
    const leader = await eventually(() => nodes.find((n) => n.app.cluster!.leader), 'a leader');
    await eventually(() => target.arrivals.length >= 3, 'three ticks');
    await leader.stop();
    const before = target.arrivals.length;
    await eventually(() => target.arrivals.length >= before + 3, 'three more ticks after the leader stopped');
    const survivor = nodes.find((n) => n !== leader)!;
    expect(survivor.app.cluster!.leader).toBe(true);
    // One message per tick: no two stored messages of the schedule share a due time.
    const { body } = await survivor.api('GET', '/v1/messages?queue=outbound&limit=500');
    const due = body.messages.map((m: { deliverAt: string }) => m.deliverAt);
    expect(due.length).toBeGreaterThanOrEqual(6);
    expect(new Set(due).size).toBe(due.length);
  });

  it('needs the admin key from SLUICE_ADMIN_KEY: none is generated into a data dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-key-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'sluice.yaml'), `storage: { postgres: "${postgresUrl}", postgresSchema: ${schema()} }\nlog: { level: silent }\n`);
    const loaded = loadConfig({ configPath: join(dir, 'sluice.yaml'), dataDir: join(dir, 'data') }, {}, dir);
    await expect(Sluice.start({ loaded, announce: () => {} })).rejects.toThrow(/SLUICE_ADMIN_KEY: on PostgreSQL every node needs the same admin key/);
  });

  it('PostgreSQL lost while running: writes answer 503 with Retry-After, /readyz 503, nothing is delivered twice, and everything resumes by itself', async () => {
    const proxy = await new TcpProxy(new URL(postgresUrl)).start();
    cleanups.push(() => proxy.stop());
    const target = await sink();
    const viaProxy = new URL(postgresUrl);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const n = await node(
      { storage: { postgresSchema: schema() }, network: { allowPrivate: true }, queues: { hooks: { mode: 'push', url: `${target.origin}/in` } }, sources: { s: { queue: 'hooks' } } },
      viaProxy.toString(),
    );
    let sent = 0;
    const ingest = () => fetch(`${n.url}/in/s`, { method: 'POST', body: JSON.stringify({ n: (sent += 1) }) });
    for (let i = 0; i < 10; i += 1) expect((await ingest()).status).toBe(202);
    await eventually(() => target.arrivals.length === 10, 'the first ten delivered');

    proxy.cut();
    const refused = await ingest();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect((await n.api('POST', '/v1/messages', { queue: 'hooks', body: {} })).status).toBe(503);
    expect((await n.api('GET', '/readyz', undefined, null)).status).toBe(503);

    proxy.restore();
    await eventually(async () => (await n.api('GET', '/readyz', undefined, null)).status === 200, 'ready again');
    for (let i = 0; i < 10; i += 1) expect((await ingest()).status).toBe(202);
    await eventually(() => target.arrivals.length >= 20, 'the next ten delivered');
    await eventually(async () => (await n.api('GET', '/v1/queues/hooks')).body.depth?.delivered === 20, 'every outcome stored');
    const bodies = target.arrivals.map((r) => r.body.toString());
    expect(new Set(bodies).size).toBe(bodies.length);
  });
});
