import { stepParams, toRun, toRunStep, type RunRow, type StepRow } from '../rows.js';
import type { DeliveryOutcome, ListRunsFilter, NewRun, RunChange, RunPage, RunStart, RunState, RunStep, RunWithSteps } from '../types.js';
import { parseId } from './rows.js';
import type { Queryable } from './sql/queryable.js';

/** The columns of a run as toRun reads them. */
const RUN_COLUMNS = 'id, tenant, workflow, definition, vars, state, error, idempotency_key, created_at, updated_at, version';

/**
 * Workflows and their runs in PostgreSQL: plain statements over the tables of migration 9. The reads
 * and the workflow definitions go through the class; what must share a transaction with a run's
 * messages is a function of the transaction (`…In(tx, …)`) below it, which PostgresStore composes
 * with its append and cancel. Run ids are the identity column as a decimal string; an id that
 * parseId refuses (not a positive integer of at most 18 digits) names no run, so no cast can fail.
 */
export class PostgresWorkflowRuns {
  constructor(private readonly db: Queryable) {}

  /** The run and its steps in one statement, so both come from one snapshot (a change commits both together). */
  async getRun(id: string): Promise<RunWithSteps | undefined> {
    if (parseId(id) === undefined) return undefined;
    const result = await this.db.query<RunRow & { steps: StepRow[] }>({
      text: `SELECT ${RUN_COLUMNS},
               COALESCE((SELECT json_agg(s ORDER BY s.seq) FROM workflow_steps s WHERE s.run_id = r.id), '[]'::json) AS steps
             FROM workflow_runs r WHERE r.id = $1`,
      values: [id],
    });
    const row = result.rows[0];
    return row && { run: toRun(row), steps: row.steps.map(toRunStep) };
  }

  /** Newest first; one more row than the page is read to know whether another page follows. */
  async listRuns(filter: ListRunsFilter): Promise<RunPage> {
    const before = filter.before === undefined ? null : parseId(filter.before);
    if (before === undefined) return { runs: [] };
    const rows = (
      await this.db.query<RunRow>({
        text: `SELECT ${RUN_COLUMNS} FROM workflow_runs
               WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR tenant = $2) AND ($3::text IS NULL OR workflow = $3)
                 AND ($4::text IS NULL OR state = $4)
               ORDER BY id DESC LIMIT $5`,
        values: [before, filter.tenant ?? null, filter.workflow ?? null, filter.state ?? null, filter.limit + 1],
      })
    ).rows;
    const runs = rows.slice(0, filter.limit).map(toRun);
    return rows.length > filter.limit ? { runs, nextCursor: runs.at(-1)!.id } : { runs };
  }
}

/**
 * Inside a transaction: insert the run's row, or answer the run that already holds its idempotency
 * key. `ON CONFLICT DO NOTHING` on the unique index, never check-then-insert: a concurrent start
 * with the same key waits for the first one's commit, inserts nothing, and then reads the first run
 * (READ COMMITTED: the read sees that commit). Should that run vanish between the two statements,
 * the insert is tried again.
 */
export async function insertRunIn(tx: Queryable, run: NewRun, now: number): Promise<RunStart> {
  for (;;) {
    const inserted = await tx.query<{ id: number }>({
      text: `INSERT INTO workflow_runs (tenant, workflow, definition, vars, state, error, idempotency_key, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             ON CONFLICT (tenant, workflow, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING id`,
      values: [run.tenant, run.workflow, JSON.stringify(run.definition), JSON.stringify(run.vars), run.state, run.error ?? null, run.idempotencyKey ?? null, now],
    });
    const row = inserted.rows[0];
    if (row) return { id: String(row.id), state: run.state, created: true };
    const earlier = await runByKey(tx, run);
    if (earlier) return { ...earlier, created: false };
  }
}

/** The run that holds this run's idempotency key, if any. */
async function runByKey(tx: Queryable, run: NewRun): Promise<Omit<RunStart, 'created'> | undefined> {
  if (run.idempotencyKey === undefined) return undefined;
  const found = await tx.query<{ id: number; state: RunState }>({
    text: 'SELECT id, state FROM workflow_runs WHERE tenant = $1 AND workflow = $2 AND idempotency_key = $3',
    values: [run.tenant, run.workflow, run.idempotencyKey],
  });
  const row = found.rows[0];
  return row && { id: String(row.id), state: row.state };
}

/**
 * Inside a transaction: move the run to the change's state, only while it is at the change's version
 * (which goes up by one). Of two changes worked out from one version, the second waits for the first's
 * row lock, re-reads the row, finds the version moved and changes nothing.
 */
export async function moveRunIn(tx: Queryable, change: RunChange, now: number): Promise<boolean> {
  if (parseId(change.runId) === undefined) return false;
  const moved = await tx.query({
    text: 'UPDATE workflow_runs SET state = $3, error = $4, updated_at = $5, version = version + 1 WHERE id = $1 AND version = $2',
    values: [change.runId, change.version, change.state, change.error ?? null, now],
  });
  return (moved.rowCount ?? 0) > 0;
}

/**
 * Inside a transaction: write step rows in one statement, each replacing the row of its seq if there
 * is one. ON CONFLICT may touch a row once per statement, so of steps naming one seq the last is
 * written (what writing them one by one leaves).
 */
export async function putStepsIn(tx: Queryable, runId: string, steps: RunStep[]): Promise<void> {
  const rows = lastOfEachSeq(steps).map((step) => stepParams(runId, step));
  if (rows.length === 0) return;
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
  await tx.query({
    text: `INSERT INTO workflow_steps (run_id, seq, name, state, message_id, attempts, response, error, updated_at)
           SELECT $1::bigint, s.* FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::bigint[])
             AS s(seq, name, state, message_id, attempts, response, error, updated_at)
           ON CONFLICT (run_id, seq) DO UPDATE SET name = excluded.name, state = excluded.state, message_id = excluded.message_id,
             attempts = excluded.attempts, response = excluded.response, error = excluded.error, updated_at = excluded.updated_at`,
    values: [
      runId,
      column('seq'),
      column('name'),
      column('state'),
      column('messageId'),
      column('attempts'),
      column('response'),
      column('error'),
      column('updatedAt'),
    ],
  });
}

/** The steps with a repeated seq reduced to its last one, in the order of those last ones. */
function lastOfEachSeq(steps: RunStep[]): RunStep[] {
  const last = new Map<number, RunStep>();
  for (const step of steps) {
    last.delete(step.seq);
    last.set(step.seq, step);
  }
  return [...last.values()];
}

/**
 * Inside a transaction: of these outcomes (each naming a different message), lock the messages that
 * the outcome still applies to, under the rule of sql/complete-deliveries.ts (inflight, and under
 * the outcome's claim when it names one), and answer their ids. Locked, they stay so until the
 * commit, so the outcomes of exactly these messages apply when completeDeliveries runs next in the
 * same transaction, and a run change is applied with its outcome or not at all.
 */
export async function lockApplyingIn(tx: Queryable, outcomes: DeliveryOutcome[]): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const locked = await tx.query<{ id: number }>({
    text: `SELECT m.id FROM messages m JOIN unnest($1::bigint[], $2::text[]) AS o(id, claim) ON m.id = o.id
           WHERE m.state = 'inflight' AND (o.claim IS NULL OR m.lease_token = o.claim)
           ORDER BY m.id FOR UPDATE OF m`,
    values: [outcomes.map((outcome) => outcome.id), outcomes.map((outcome) => outcome.claim ?? null)],
  });
  return new Set(locked.rows.map((row) => String(row.id)));
}
