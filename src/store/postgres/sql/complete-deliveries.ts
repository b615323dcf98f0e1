import type { AttemptRecord, DeliveryOutcome } from '../../types.js';
import type { Queryable } from './queryable.js';

/**
 * Record many finished deliveries in one statement: outcomes arrive as arrays joined with `unnest`,
 * one UPDATE … FROM moves each message that is still inflight under the outcome's claim, and the
 * attempts of the messages it moved are inserted by a CTE of the same statement. An outcome for a
 * message no longer inflight (cancelled meanwhile), or no longer under that claim (it expired and
 * was claimed again, by any node), changes nothing and records nothing. An outcome without a claim
 * applies to whichever claim is current, as on SQLite.
 *
 * Per kind: delivered → delivered; dead → dead with the reason; retry → scheduled at its time (even
 * when already due: the wake-up then reports its lane); hold → stays inflight under the same claim
 * with a new deadline; release → ready in its old place, attempts and last error untouched.
 *
 * UPDATE … FROM changes a row once however many outcome rows match it, and which of them it uses
 * "is not readily predictable" (PostgreSQL's UPDATE page): one statement names each message once
 * (inRounds).
 */
const TEXT = `
WITH outcome AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $15::text[])
    AS o(id, kind, deliver_at, attempts, error, lease_until, claim)
),
done AS (
  UPDATE messages m SET
    state = CASE o.kind WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead' WHEN 'retry' THEN 'scheduled'
                        WHEN 'hold' THEN 'inflight' ELSE 'ready' END,
    deliver_at = CASE WHEN o.kind = 'retry' THEN o.deliver_at ELSE m.deliver_at END,
    attempts = COALESCE(o.attempts, m.attempts),
    last_error = CASE WHEN o.kind = 'release' THEN m.last_error ELSE o.error END,
    lease_token = CASE WHEN o.kind = 'hold' THEN m.lease_token END,
    lease_until = CASE WHEN o.kind = 'hold' THEN o.lease_until END,
    updated_at = $7
  FROM outcome o
  WHERE m.id = o.id AND m.state = 'inflight' AND (o.claim IS NULL OR m.lease_token = o.claim)
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

/**
 * Split outcomes so that no round names a message twice: round k holds the k-th outcome of each
 * message, in their order. Applied one round after another, they do what applying them one by one
 * does (a strict lane's hold followed by its delivery, both in one batch). Nearly always one round.
 */
export function inRounds(outcomes: DeliveryOutcome[]): DeliveryOutcome[][] {
  const rounds: DeliveryOutcome[][] = [];
  const seen = new Map<string, number>();
  for (const outcome of outcomes) {
    const round = seen.get(outcome.id) ?? 0;
    seen.set(outcome.id, round + 1);
    (rounds[round] ??= []).push(outcome);
  }
  return rounds;
}

/** Apply outcomes that name each message once (one round of inRounds), in one statement. */
export async function completeDeliveries(db: Queryable, outcomes: DeliveryOutcome[], now: number): Promise<void> {
  if (outcomes.length === 0) return;
  const attempts = outcomes.flatMap((outcome) =>
    'attempt' in outcome && outcome.attempt ? [{ id: outcome.id, attempt: outcome.attempt as AttemptRecord }] : [],
  );
  const values = [
    outcomes.map((o) => o.id),
    outcomes.map((o) => o.kind),
    outcomes.map((o) => (o.kind === 'retry' ? o.deliverAt : null)),
    outcomes.map(attemptsOf),
    outcomes.map(errorOf),
    outcomes.map((o) => (o.kind === 'hold' ? o.leaseUntil : null)),
    now,
    attempts.map((a) => a.id),
    attempts.map((a) => a.attempt.attempt),
    attempts.map((a) => a.attempt.startedAt),
    attempts.map((a) => a.attempt.status ?? null),
    attempts.map((a) => Math.round(a.attempt.latencyMs)),
    attempts.map((a) => a.attempt.error ?? null),
    attempts.map((a) => a.attempt.response ?? null),
    outcomes.map((o) => o.claim ?? null),
  ];
  await db.query({ name: 'sluice_complete_deliveries', text: TEXT, values });
}
