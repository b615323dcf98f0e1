import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, expect, it } from 'vitest';
import { describePostgres, dropSchema, freshSchema, postgresUrl } from '../store/postgres-support.js';
import { describeRedis, rawClient, redisUrl } from '../delivery/redis-support.js';
import { killHard, spawnSluice, type ChildSluice } from '../support/child.js';
import { Sink } from '../support/sink.js';
import { eventually } from '../support/sluice.js';
import { maxInWindow } from '../support/windows.js';

const KEY = 'sk_cluster_test_0123456789abcdef';
/** Every node of a cluster needs the same vault key. */
const VAULT_KEY = Buffer.alloc(32, 7).toString('base64');
const dir = mkdtempSync(join(tmpdir(), 'sluice-cluster-'));
const schemas: string[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(schemas.map(dropSchema));
  // The Redis keys of a cluster are named after its schema.
  const raw = await rawClient().catch(() => undefined);
  if (!raw) return;
  try {
    for (const schema of schemas) {
      for await (const keys of raw.scanIterator({ MATCH: `sluice:{${schema}}:*`, COUNT: 1_000 })) if (keys.length > 0) await raw.unlink(keys);
    }
  } finally {
    await raw.close();
  }
});

/** Three nodes of one cluster as real processes, each with its own data dir, on one schema. */
async function cluster(config: Record<string, unknown>): Promise<{ schema: string; start: (i: number) => Promise<ChildSluice> }> {
  const schema = freshSchema();
  schemas.push(schema);
  const yaml = join(dir, `${schema}.yaml`);
  writeFileSync(yaml, stringify({ ...config, storage: { postgres: postgresUrl, postgresSchema: schema, postgresPoolSize: 4 }, limits: { perNode: true, ...(config.limits as object) } }));
  const start = (i: number) => spawnSluice(['--config', yaml, '--data-dir', join(dir, `${schema}-node${i}`)], { SLUICE_ADMIN_KEY: KEY, SLUICE_SECRET_KEY: VAULT_KEY }, dir);
  return { schema, start };
}

/** Ids of the messages whose delivery is claimed and not finished, as the database holds them. */
async function inflightIds(schema: string): Promise<Set<string>> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(`SELECT id::text AS id FROM ${schema}.messages WHERE state = 'inflight'`);
    return new Set(rows.map((row) => row.id));
  } finally {
    await client.end();
  }
}

async function api(node: ChildSluice, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

/**
 * Send `count` webhooks spread over the nodes, several at a time; a node that does not answer
 * (killed) is skipped for that message. Resolves with the ids of the acknowledged (2xx) ones.
 */
async function ingest(nodes: () => ChildSluice[], source: string, count: number, onProgress: (acknowledged: number) => void): Promise<Map<string, string>> {
  const acknowledged = new Map<string, string>(); // id → body
  let next = 0;
  const worker = async (w: number) => {
    for (let n = next++; n < count; n = next++) {
      const live = nodes();
      const node = live[(n + w) % live.length]!;
      const body = JSON.stringify({ n });
      try {
        const response = await fetch(`${node.url}/in/${source}`, { method: 'POST', body });
        if (response.status === 202) acknowledged.set(((await response.json()) as { id: string }).id, body);
      } catch {
        // The node was killed while we sent: not acknowledged, so not owed.
      }
      onProgress(acknowledged.size);
    }
  };
  await Promise.all([0, 1, 2, 3, 4, 5].map(worker));
  return acknowledged;
}

describePostgres('three nodes on one PostgreSQL, one killed with kill -9', () => {
  it('pull: ingest through all three while one is killed and restarted; drained through all three, nothing acknowledged is lost and nothing is leased twice', async () => {
    const { start } = await cluster({ queues: { inbox: { mode: 'pull', visibilityTimeoutMs: 120_000 } }, sources: { s: { queue: 'inbox' } } });
    const nodes = await Promise.all([0, 1, 2].map(start));
    let killed: ChildSluice | undefined;
    let restarted: Promise<ChildSluice> | undefined;
    const live = () => nodes.filter((node) => node !== killed);
    const acknowledged = await ingest(live, 's', 1_200, (count) => {
      if (count >= 400 && !killed) {
        killed = nodes[1]!;
        void killHard(killed.child).then(() => (restarted = start(1)));
      }
    });
    expect(killed).toBeDefined();
    nodes[1] = await eventually(() => restarted, 'the killed node restarting');
    killed = undefined;

    // Drain through all three nodes at once; every lease is acked at once.
    const leased: string[] = [];
    const drain = async (node: ChildSluice) => {
      for (let empty = 0; empty < 3 && leased.length < acknowledged.size * 2; ) {
        const { messages } = await api(node, 'POST', '/v1/queues/inbox/pull', { max: 50, waitMs: 500 });
        if (messages.length === 0) {
          if (new Set(leased).size >= acknowledged.size) empty += 1;
          continue;
        }
        leased.push(...messages.map((m: { id: string }) => m.id));
        await api(node, 'POST', '/v1/queues/inbox/ack', { receipts: messages.map((m: { receipt: string }) => m.receipt) });
      }
    };
    await Promise.all(nodes.map(drain));

    const lost = [...acknowledged.keys()].filter((id) => !leased.includes(id));
    expect(lost).toEqual([]);
    // The visibility timeout (120 s) outlasts the test, and every lease was acked: a message leased
    // twice would have been handed to two consumers at once.
    expect(leased.length).toBe(new Set(leased).size);
  }, 240_000);

  it('push: claims of a node killed mid-delivery come back on the others; only messages in flight at the kill may arrive twice', async () => {
    const sink = await new Sink(() => ({ status: 200, delayMs: 100 })).start();
    try {
      const { schema, start } = await cluster({
        network: { allowPrivate: true },
        limits: { domains: { [sink.domain]: { concurrency: 2 } } },
        queues: { out: { mode: 'push', url: `${sink.origin}/hook` } },
        sources: { p: { queue: 'out' } },
      });
      const nodes = await Promise.all([0, 1, 2].map(start));
      const acknowledged = await ingest(() => nodes, 'p', 300, () => {});
      expect(acknowledged.size).toBe(300);
      // Kill one node once deliveries are well under way, and leave it dead: its claims can only come
      // back through the leader, once its heartbeat is old.
      await eventually(() => sink.arrivals.length >= 60, 'deliveries under way');
      await killHard(nodes[2]!.child);
      // An attempt is in flight until its outcome is stored: the sink may have answered it already.
      const inflight = await inflightIds(schema);
      const inFlightAtKill = new Set([...acknowledged].filter(([id]) => inflight.has(id)).map(([, body]) => body));
      const survivors = nodes.slice(0, 2);

      const bodies = () => sink.arrivals.map((arrival) => arrival.body.toString());
      await eventually(() => new Set(bodies()).size >= 300, 'every message delivered', 120_000);
      const missing = [...acknowledged.values()].filter((body) => !bodies().includes(body));
      expect(missing).toEqual([]);
      const seen = new Map<string, number>();
      for (const body of bodies()) seen.set(body, (seen.get(body) ?? 0) + 1);
      const twice = [...seen].filter(([, count]) => count > 1).map(([body]) => body);
      expect(twice.filter((body) => !inFlightAtKill.has(body))).toEqual([]);
      const stats = await eventually(async () => {
        const body = await api(survivors[0]!, 'GET', '/v1/stats');
        const out = body.queues.find((queue: { name: string }) => queue.name === 'out');
        return out?.depth.delivered === 300 ? body : undefined;
      }, 'every delivery recorded', 60_000);
      expect(stats.cluster.nodes.filter((node: { alive: boolean }) => node.alive)).toHaveLength(2);
    } finally {
      await sink.stop();
    }
  }, 240_000);
});

describePostgres('three nodes on one PostgreSQL and one Redis, one killed with kill -9', () => {
  describeRedis('limits shared through Redis', () => {
    it('push to one limited sink: never more than the concurrency at once, nor more than burst + rate·W in a window; every message arrives', async () => {
      const sink = await new Sink(() => ({ status: 200, delayMs: 30 })).start();
      try {
        const rate = 40;
        const burst = 4;
        const { start } = await cluster({
          network: { allowPrivate: true },
          limits: { perNode: false, redis: redisUrl, domains: { [sink.domain]: { concurrency: 3, ratePerSecond: rate, burst } } },
          queues: { out: { mode: 'push', url: `${sink.origin}/hook` } },
          sources: { p: { queue: 'out' } },
        });
        const nodes = await Promise.all([0, 1, 2].map(start));
        let killed: ChildSluice | undefined;
        let restarted: Promise<ChildSluice> | undefined;
        const live = () => nodes.filter((node) => node !== killed);
        const acknowledged = await ingest(live, 'p', 240, () => {});
        expect(acknowledged.size).toBe(240);
        await eventually(() => sink.arrivals.length >= 40, 'deliveries under way');
        killed = nodes[1]!;
        await killHard(killed.child);
        restarted = start(1);
        nodes[1] = await restarted;
        killed = undefined;

        const bodies = () => new Set(sink.arrivals.map((arrival) => arrival.body.toString()));
        await eventually(() => bodies().size >= 240, 'every message delivered', 120_000);
        expect([...acknowledged.values()].filter((body) => !bodies().has(body))).toEqual([]);
        // The sink counts a request from its arrival to its answer; a permit is held from before the
        // send until after the answer, so the sink can never see more than the concurrency.
        expect(sink.maxInFlight).toBeLessThanOrEqual(3);
        // Redis grants each send a rate cell: in any window of W s at most burst + rate·W sends start.
        // Arrival times at the sink are not send times: 0.25 s is allowed for the difference.
        const times = sink.arrivals.map((arrival) => arrival.at).sort((a, b) => a - b);
        for (const windowMs of [250, 1_000, 3_000]) {
          const most = maxInWindow(times, windowMs);
          expect(most, `arrivals in ${windowMs} ms`).toBeLessThanOrEqual(burst + Math.floor((rate * (windowMs + 250)) / 1_000));
        }
        // And the pace is the limit's, not three times it: 240 messages at 40/s need about 6 s.
        expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(((240 - burst) / rate) * 1_000 - 1_000);
      } finally {
        await sink.stop();
      }
    }, 240_000);
  });
});
