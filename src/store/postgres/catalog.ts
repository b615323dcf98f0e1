import type { DomainLimitRecord, NewMessage, QueueRecord, ScheduleRecord, TenantRecord } from '../types.js';
import { appendMessages } from './sql/append-messages.js';
import type { Queryable } from './sql/queryable.js';

/**
 * The small, rarely written tables: queue definitions, tenants, API keys, domain limits, schedules.
 * Plain statements; none of this is on a hot path. JSON documents (queue config, schedule spec) are
 * stored as text, exactly as given, like the SQLite store does.
 */
export class PostgresCatalog {
  constructor(private readonly db: Queryable) {}

  async upsertQueue(queue: QueueRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO queues (name, tenant, config, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, config = excluded.config`,
      values: [queue.name, queue.tenant, JSON.stringify(queue.config), queue.createdAt],
    });
  }

  async listQueues(): Promise<QueueRecord[]> {
    type Row = { name: string; tenant: string; config: string; created_at: number };
    const rows = (await this.db.query<Row>({ text: 'SELECT name, tenant, config, created_at FROM queues ORDER BY name COLLATE "C"' })).rows;
    return rows.map((row) => ({ name: row.name, tenant: row.tenant, config: JSON.parse(row.config) as unknown, createdAt: row.created_at }));
  }

  async deleteQueue(name: string): Promise<boolean> {
    return ((await this.db.query({ text: 'DELETE FROM queues WHERE name = $1', values: [name] })).rowCount ?? 0) > 0;
  }

  async upsertTenant(tenant: TenantRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO tenants (name, concurrency, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency`,
      values: [tenant.name, tenant.concurrency ?? null, tenant.createdAt],
    });
  }

  async listTenants(): Promise<TenantRecord[]> {
    type Row = { name: string; concurrency: number | null; created_at: number };
    const rows = (await this.db.query<Row>({ text: 'SELECT name, concurrency, created_at FROM tenants ORDER BY name COLLATE "C"' })).rows;
    return rows.map((row) => {
      const tenant: TenantRecord = { name: row.name, createdAt: row.created_at };
      if (row.concurrency !== null) tenant.concurrency = row.concurrency;
      return tenant;
    });
  }

  async addApiKey(hash: string, tenant: string, now: number): Promise<void> {
    await this.db.query({ text: 'INSERT INTO api_keys (hash, tenant, created_at) VALUES ($1, $2, $3)', values: [hash, tenant, now] });
  }

  async listApiKeys(): Promise<{ hash: string; tenant: string }[]> {
    return (await this.db.query<{ hash: string; tenant: string }>({ text: 'SELECT hash, tenant FROM api_keys' })).rows;
  }

  async upsertDomainLimit(limit: DomainLimitRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO domain_limits (key, concurrency, rate_per_second, burst) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET concurrency = excluded.concurrency, rate_per_second = excluded.rate_per_second,
               burst = excluded.burst`,
      values: [limit.key, limit.concurrency ?? null, limit.ratePerSecond ?? null, limit.burst ?? null],
    });
  }

  async deleteDomainLimit(key: string): Promise<boolean> {
    return ((await this.db.query({ text: 'DELETE FROM domain_limits WHERE key = $1', values: [key] })).rowCount ?? 0) > 0;
  }

  async listDomainLimits(): Promise<DomainLimitRecord[]> {
    type Row = { key: string; concurrency: number | null; rate_per_second: number | null; burst: number | null };
    const rows = (await this.db.query<Row>({ text: 'SELECT key, concurrency, rate_per_second, burst FROM domain_limits ORDER BY key COLLATE "C"' })).rows;
    return rows.map((row) => {
      const limit: DomainLimitRecord = { key: row.key };
      if (row.concurrency !== null) limit.concurrency = row.concurrency;
      if (row.rate_per_second !== null) limit.ratePerSecond = row.rate_per_second;
      if (row.burst !== null) limit.burst = row.burst;
      return limit;
    });
  }

  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    await this.db.query({
      text: `INSERT INTO schedules (name, tenant, spec, paused, next_run_at, last_run_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, spec = excluded.spec, paused = excluded.paused,
               next_run_at = excluded.next_run_at, last_run_at = excluded.last_run_at`,
      values: [
        schedule.name,
        schedule.tenant,
        JSON.stringify(schedule.spec),
        schedule.paused,
        schedule.nextRunAt ?? null,
        schedule.lastRunAt ?? null,
        schedule.createdAt,
      ],
    });
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    type Row = { name: string; tenant: string; spec: string; paused: boolean; next_run_at: number | null; last_run_at: number | null; created_at: number };
    const rows = (await this.db.query<Row>({ text: 'SELECT * FROM schedules ORDER BY name COLLATE "C"' })).rows;
    return rows.map((row) => {
      const schedule: ScheduleRecord = { name: row.name, tenant: row.tenant, spec: JSON.parse(row.spec) as unknown, paused: row.paused, createdAt: row.created_at };
      if (row.next_run_at !== null) schedule.nextRunAt = row.next_run_at;
      if (row.last_run_at !== null) schedule.lastRunAt = row.last_run_at;
      return schedule;
    });
  }

  async deleteSchedule(name: string): Promise<boolean> {
    return ((await this.db.query({ text: 'DELETE FROM schedules WHERE name = $1', values: [name] })).rowCount ?? 0) > 0;
  }
}

/**
 * Inside a transaction (`tx`): fire one schedule tick. The compare-and-set on next_run_at is the
 * UPDATE's WHERE: of two nodes firing the same tick, the second waits for the first's row lock, then
 * re-reads the row (READ COMMITTED), finds next_run_at moved and changes nothing. The tick's messages
 * are appended in the same transaction, so a tick is neither lost nor fired twice.
 */
export async function fireScheduleIn(
  tx: Queryable,
  name: string,
  expectedRunAt: number,
  nextRunAt: number | undefined,
  messages: NewMessage[],
  now: number,
): Promise<boolean> {
  const moved = await tx.query({
    text: 'UPDATE schedules SET next_run_at = $3, last_run_at = $4 WHERE name = $1 AND next_run_at = $2',
    values: [name, expectedRunAt, nextRunAt ?? null, now],
  });
  if ((moved.rowCount ?? 0) === 0) return false;
  await appendMessages(tx, messages, now);
  return true;
}
