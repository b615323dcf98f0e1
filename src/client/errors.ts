import type { ErrorCode } from '../http/errors.js';

/** An RFC 9457 problem as Sluice answers it; routes may add fields (`errors`, `pending`, `state`). */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  /** Stable across versions: `SLUICE_ERR_VALIDATION`, `SLUICE_ERR_NOT_FOUND`, … */
  code?: string;
  detail?: string;
  instance?: string;
  /** Validation errors, field by field. */
  errors?: { field: string; message: string }[];
  [extra: string]: unknown;
}

/**
 * A code from Sluice's error table, or any other string: a newer server may answer a code this
 * client does not know yet.
 */
export type SluiceErrorCode = ErrorCode | (string & {});

/**
 * A non-2xx answer of the Sluice API.
 *
 * @example
 * try {
 *   await sluice.deleteQueue('orders');
 * } catch (error) {
 *   if (error instanceof SluiceApiError && error.code === 'SLUICE_ERR_CONFLICT') {
 *     console.log(`still ${error.problem?.pending} messages waiting: ${error.detail}`);
 *   } else throw error;
 * }
 */
export class SluiceApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** `SLUICE_ERR_*`; undefined when the answer was not a Sluice problem (a proxy's 502 page). */
  readonly code: SluiceErrorCode | undefined;
  /** What went wrong, in words: the problem's `detail`, or the body when it was not JSON. */
  readonly detail: string;
  /** Seconds to wait before trying again, from `Retry-After` (503 when full or shutting down). */
  readonly retryAfter: number | undefined;
  /** The whole problem body, with route-specific fields. */
  readonly problem: ProblemDetails | undefined;

  constructor(status: number, problem: ProblemDetails | undefined, retryAfter?: number) {
    const code = typeof problem?.code === 'string' ? problem.code : undefined;
    const detail = typeof problem?.detail === 'string' ? problem.detail : '';
    super([status, code, detail].filter((part) => part !== undefined && part !== '').join(' '));
    this.name = 'SluiceApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.problem = problem;
  }
}

/** `Retry-After` as seconds from `now`: the header holds either seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
