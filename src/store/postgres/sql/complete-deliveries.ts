import type { AttemptRecord, DeliveryOutcome } from '../../types.js';
import type { Queryable } from './queryable.js';

/**
 * Record many finished deliveries in one statement: outcomes arrive as arrays joined with `unnest`,
 * one UPDATE … FROM moves each message that is still inflight, and the attempts of the messages it
 * moved are inserted by a CTE of the same statement (an outcome for a message no longer inflight,
 * cancelled meanwhile for example, changes nothing and records nothing, as on SQLite).
 *
 * Per kind: delivered → delivered; dead → dead with the reason; retry → scheduled at its time (even
 * when already due: the wake-up then reports its lane); hold → stays inflight with a new deadline;
 * release → ready in its old place, attempts and last error untouched.
 *
 * Contract gap: a claim has no token, so a node whose claim expired and was taken by another node
 * can still overwrite that node's outcome (README.md in this folder).
 */
const TEXT = `
WITH outcome AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::bigint[])
    AS o(id, kind, deliver_at, attempts, error, lease_until)
),
done AS (
  UPDATE messages m SET
    state = CASE o.kind WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead' WHEN 'retry' THEN 'scheduled'
                        WHEN 'hold' THEN 'inflight' ELSE 'ready' END,
    deliver_at = CASE WHEN o.kind = 'retry' THEN o.deliver_at ELSE m.deliver_at END,
    attempts = COALESCE(o.attempts, m.attempts),
    last_error = CASE WHEN o.kind = 'release' THEN m.last_error ELSE o.error END,
    lease_until = CASE WHEN o.kind = 'hold' THEN o.lease_until END,
    updated_at = $7
  FROM outcome o
  WHERE m.id = o.id AND m.state = 'inflight'
  RETURNING m.id
)
INSERT INTO attempts (message_id, attempt, started_at, status, latency_ms, error, response)
SELECT a.message_id, a.attempt, a.started_at, a.status, a.latency_ms, a.error, a.response
FROM unnest($8::bigint[], $9::int[], $10::bigint[], $11::int[], $12::int[], $13::text[], $14::text[])
       WITH ORDINALITY AS a(message_id, attempt, started_at, status, latency_ms, error, response, ord)
WHERE a.message_id IN (SELECT id FROM done)
ORDER BY a.ord`;

/** The attempts count an outcome writes (null: unchanged). */
function attemptsOf(outcome: DeliveryOutcome): number | null {
  switch (outcome.kind) {
    case 'delivered':
    case 'hold':
      return outcome.attempt.attempt;
    case 'dead':
      return outcome.attempt?.attempt ?? null;
    case 'retry':
      return outcome.countsAsAttempt && outcome.attempt ? outcome.attempt.attempt : null;
    case 'release':
      return null;
  }
}

function errorOf(outcome: DeliveryOutcome): string | null {
  if (outcome.kind === 'dead') return outcome.reason;
  if (outcome.kind === 'retry' || outcome.kind === 'hold') return outcome.attempt?.error ?? null;
  return null;
}

export async function completeDeliveries(db: Queryable, outcomes: DeliveryOutcome[], now: number, isId: (id: string) => boolean): Promise<void> {
  const valid = outcomes.filter((outcome) => isId(outcome.id));
  if (valid.length === 0) return;
  const attempts = valid.flatMap((outcome) =>
    'attempt' in outcome && outcome.attempt ? [{ id: outcome.id, attempt: outcome.attempt as AttemptRecord }] : [],
  );
  const values = [
    valid.map((o) => o.id),
    valid.map((o) => o.kind),
    valid.map((o) => (o.kind === 'retry' ? o.deliverAt : null)),
    valid.map(attemptsOf),
    valid.map(errorOf),
    valid.map((o) => (o.kind === 'hold' ? o.leaseUntil : null)),
    now,
    attempts.map((a) => a.id),
    attempts.map((a) => a.attempt.attempt),
    attempts.map((a) => a.attempt.startedAt),
    attempts.map((a) => a.attempt.status ?? null),
    attempts.map((a) => Math.round(a.attempt.latencyMs)),
    attempts.map((a) => a.attempt.error ?? null),
    attempts.map((a) => a.attempt.response ?? null),
  ];
  await db.query({ name: 'sluice_complete_deliveries', text: TEXT, values });
}
