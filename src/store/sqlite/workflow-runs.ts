import type Database from 'better-sqlite3';
import { stepParams, toRun, toRunStep, type RunRow, type StepRow } from '../rows.js';
import type { ListRunsFilter, NewRun, RunChange, RunPage, RunStep, RunWithSteps } from '../types.js';

/**
 * Workflow runs in SQLite (the workflows themselves: tenant-rows.ts): plain statements over the tables of migration 11. Every
 * method that writes runs inside the caller's transaction (SqliteStore's write), so a run's row, its
 * step rows and the step's message move together.
 */
export class SqliteWorkflowRuns {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      insertRun: db.prepare(
        `INSERT INTO workflow_runs (tenant, workflow, definition, vars, state, error, idempotency_key, created_at, updated_at)
         VALUES (@tenant, @workflow, @definition, @vars, @state, @error, @idempotencyKey, @now, @now) RETURNING seq`,
      ),
      runByKey: db.prepare('SELECT seq AS id, state FROM workflow_runs WHERE tenant = ? AND workflow = ? AND idempotency_key = ?'),
      getRun: db.prepare('SELECT seq AS id, * FROM workflow_runs WHERE seq = ?'),
      getSteps: db.prepare('SELECT * FROM workflow_steps WHERE run_seq = ? ORDER BY seq'),
      moveRun: db.prepare('UPDATE workflow_runs SET state = ?, error = ?, updated_at = ?, version = version + 1 WHERE seq = ? AND version = ?'),
      putStep: db.prepare(
        `INSERT INTO workflow_steps (run_seq, seq, name, state, message_id, attempts, response, error, updated_at)
         VALUES (@run, @seq, @name, @state, @messageId, @attempts, @response, @error, @updatedAt)
         ON CONFLICT (run_seq, seq) DO UPDATE SET name = excluded.name, state = excluded.state, message_id = excluded.message_id,
           attempts = excluded.attempts, response = excluded.response, error = excluded.error, updated_at = excluded.updated_at`,
      ),
      finishedRuns: db.prepare("SELECT seq FROM workflow_runs WHERE state <> 'running' AND updated_at < ? ORDER BY updated_at LIMIT ?"),
      deleteRun: db.prepare('DELETE FROM workflow_runs WHERE seq = ?'),
      deleteSteps: db.prepare('DELETE FROM workflow_steps WHERE run_seq = ?'),
      listRuns: db.prepare(
        `SELECT seq AS id, * FROM workflow_runs
         WHERE seq < @before AND (@tenant IS NULL OR tenant = @tenant) AND (@workflow IS NULL OR workflow = @workflow) AND (@state IS NULL OR state = @state)
         ORDER BY seq DESC LIMIT @limit`,
      ),
    };
  }

  /** The run an idempotency key already started, if any. */
  runByKey(run: NewRun): { id: string; state: RunWithSteps['run']['state'] } | undefined {
    if (run.idempotencyKey === undefined) return undefined;
    const row = this.sql.runByKey.get(run.tenant, run.workflow, run.idempotencyKey) as { id: number; state: RunWithSteps['run']['state'] } | undefined;
    return row && { id: String(row.id), state: row.state };
  }

  /** Inside a transaction: the run's row; its id. */
  insertRun(run: NewRun, now: number): string {
    const row = this.sql.insertRun.get({
      tenant: run.tenant,
      workflow: run.workflow,
      definition: JSON.stringify(run.definition),
      vars: JSON.stringify(run.vars),
      state: run.state,
      error: run.error ?? null,
      idempotencyKey: run.idempotencyKey ?? null,
      now,
    }) as { seq: number };
    return String(row.seq);
  }

  /** Inside a transaction: move the run to the change's state if it is still at its version. */
  moveRun(change: RunChange, now: number): boolean {
    const seq = Number(change.runId);
    if (!Number.isSafeInteger(seq)) return false;
    return this.sql.moveRun.run(change.state, change.error ?? null, now, seq, change.version).changes > 0;
  }

  putStep(runId: string, step: RunStep): void {
    this.sql.putStep.run(stepParams(Number(runId), step));
  }

  getRun(id: string): RunWithSteps | undefined {
    const seq = Number(id);
    if (!/^\d{1,15}$/.test(id) || !Number.isSafeInteger(seq)) return undefined;
    const row = this.sql.getRun.get(seq) as RunRow | undefined;
    if (!row) return undefined;
    return { run: toRun(row), steps: (this.sql.getSteps.all(seq) as StepRow[]).map(toRunStep) };
  }

  /** Inside a transaction: runs that ended before `before` go with their steps, at most `limit`. */
  purgeRuns(before: number, limit: number): number {
    const rows = this.sql.finishedRuns.all(before, limit) as { seq: number }[];
    for (const { seq } of rows) {
      this.sql.deleteSteps.run(seq);
      this.sql.deleteRun.run(seq);
    }
    return rows.length;
  }

  listRuns(filter: ListRunsFilter): RunPage {
    const before = filter.before === undefined ? Number.MAX_SAFE_INTEGER : Number(filter.before);
    if (!Number.isSafeInteger(before)) return { runs: [] };
    const rows = this.sql.listRuns.all({
      before,
      tenant: filter.tenant ?? null,
      workflow: filter.workflow ?? null,
      state: filter.state ?? null,
      limit: filter.limit + 1,
    }) as RunRow[];
    const runs = rows.slice(0, filter.limit).map(toRun);
    return rows.length > filter.limit ? { runs, nextCursor: runs.at(-1)!.id } : { runs };
  }
}
