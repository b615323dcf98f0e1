import { z } from 'zod';
import { apiSchema } from './api-schemas.js';

/**
 * The one table of Sluice errors. Every error a client can see has a stable `code` and an HTTP status;
 * a code, once shipped, never changes meaning. Responses are RFC 9457 problem+json.
 */
export const ERRORS = {
  SLUICE_ERR_BAD_REQUEST: { status: 400, title: 'Bad request' },
  SLUICE_ERR_INVALID_JSON: { status: 400, title: 'Body is not valid JSON' },
  SLUICE_ERR_JSON_TOO_DEEP: { status: 400, title: 'Body nests arrays and objects too deeply' },
  SLUICE_ERR_VALIDATION: { status: 400, title: 'Invalid field' },
  SLUICE_ERR_UNAUTHORIZED: { status: 401, title: 'Missing or invalid API key' },
  SLUICE_ERR_SIGNATURE: { status: 401, title: 'Signature verification failed' },
  SLUICE_ERR_FORBIDDEN: { status: 403, title: 'This key may not do that' },
  SLUICE_ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  SLUICE_ERR_SOURCE_NOT_FOUND: { status: 404, title: 'Unknown source' },
  SLUICE_ERR_QUEUE_NOT_FOUND: { status: 404, title: 'Unknown queue' },
  SLUICE_ERR_MESSAGE_NOT_FOUND: { status: 404, title: 'Unknown message' },
  SLUICE_ERR_SCHEDULE_NOT_FOUND: { status: 404, title: 'Unknown schedule' },
  SLUICE_ERR_SECRET_NOT_FOUND: { status: 404, title: 'Unknown secret' },
  SLUICE_ERR_TEMPLATE_NOT_FOUND: { status: 404, title: 'Unknown template' },
  SLUICE_ERR_WORKFLOW_NOT_FOUND: { status: 404, title: 'Unknown workflow' },
  SLUICE_ERR_RUN_NOT_FOUND: { status: 404, title: 'Unknown workflow run' },
  SLUICE_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  SLUICE_ERR_BODY_TIMEOUT: { status: 408, title: 'Request body not received in time' },
  SLUICE_ERR_CONFLICT: { status: 409, title: 'Conflict with the current state' },
  SLUICE_ERR_WRONG_QUEUE_MODE: { status: 409, title: 'The queue is not in the mode this route needs' },
  SLUICE_ERR_SOURCE_IN_FILE: { status: 409, title: 'The source is defined in sluice.yaml; change it there' },
  SLUICE_ERR_TEMPLATE_IN_FILE: { status: 409, title: 'The template is defined in sluice.yaml; change it there' },
  SLUICE_ERR_WORKFLOW_IN_FILE: { status: 409, title: 'The workflow is defined in sluice.yaml; change it there' },
  SLUICE_ERR_BODY_TOO_LARGE: { status: 413, title: 'Body too large' },
  SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Expected application/json' },
  SLUICE_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  SLUICE_ERR_TENANT_QUOTA: { status: 429, title: 'Tenant is over its quota' },
  SLUICE_ERR_QUEUE_FULL: { status: 503, title: 'Queue is over its maxDepth' },
  SLUICE_ERR_STORAGE_UNAVAILABLE: { status: 503, title: 'Storage could not commit' },
  SLUICE_ERR_OVERLOADED: { status: 503, title: 'Too many request bodies arriving at once' },
  SLUICE_ERR_SHUTTING_DOWN: { status: 503, title: 'Sluice is shutting down' },
  SLUICE_ERR_SECRET_UNAVAILABLE: { status: 503, title: 'A vault secret this request needs is not available' },
  SLUICE_ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * The RFC 9457 body of every error answer, as toProblem builds it. Some errors add fields of their
 * own (`errors` for a validation failure, `limit`, `state`, `pending`), so other members are allowed.
 */
export const problemSchema = apiSchema(
  'Problem',
  z.looseObject({
    type: z.string().meta({ description: '`urn:sluice:error:` and the code', examples: ['urn:sluice:error:SLUICE_ERR_VALIDATION'] }),
    title: z.string().meta({ description: 'The same for every error of this code' }),
    status: z.number().int(),
    detail: z.string().meta({ description: 'What went wrong with this request' }),
    code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]).meta({ description: 'Stable: a code never changes meaning' }),
    instance: z.string().optional().meta({ description: 'The request path' }),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'SLUICE_ERR_VALIDATION: every refused field' }),
  }),
);

/** An error meant for the client: carries its stable code, a detail and optional extras for the problem body. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    detail?: string,
    options: { cause?: unknown; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail ?? ERRORS[code].title, { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

/** Turn anything thrown into an Error, so callers can rely on `.message` and `.stack`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown));
}

/** The RFC 9457 body for an error, plus the status and headers to send it with. */
export function toProblem(thrown: unknown, instance?: string): {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
} {
  const error = thrown instanceof SluiceError ? thrown : new SluiceError('SLUICE_ERR_INTERNAL', undefined, { cause: thrown });
  const body: Record<string, unknown> = {
    type: `urn:sluice:error:${error.code}`,
    title: ERRORS[error.code].title,
    status: error.status,
    code: error.code,
    detail: error.message,
    ...error.extra,
  };
  if (instance) body.instance = instance;
  return { status: error.status, headers: error.headers, body };
}
