import type { z } from 'zod';

/** A stored definition (queue, schedule, limit, tenant) that this version cannot read: the start stops. */
export class StoredRowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoredRowError';
  }
}

/**
 * Read a stored row through the schema that wrote it. A row that does not parse stops the start with
 * an error naming it: dropping it silently would strand its messages and the sources routed to it.
 */
export function readStoredRow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new StoredRowError(`${what} cannot be read: ${describeIssues(parsed.error.issues)}`);
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
}
