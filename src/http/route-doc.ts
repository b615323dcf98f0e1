import type { z } from 'zod';
import type { ErrorCode } from './errors.js';

/**
 * Who may call a route. The description is not only documentation: the API router refuses a tenant
 * key on an `admin` route, and the plain routes check the admin key the same way, so the document
 * cannot claim an access rule the server does not apply.
 */
export type RouteAuth =
  /** The admin key only. */
  | 'admin'
  /** The admin key or a tenant key; a tenant key sees and changes its own tenant's things only. */
  | 'tenant'
  /** Public. */
  | 'none'
  /** Public, but a source with `verify` configured refuses a request without a valid provider signature. */
  | 'source-signature';

/** The success answer of a route as the document states it. */
export interface RouteResponse<S extends z.ZodType | undefined, Status extends number> {
  /** The success status, or every success status when it depends on the request (200 for a replay, 201 for a new one). */
  status: Status | readonly Status[];
  /** Schema of the JSON body; absent when the answer has no JSON body. */
  schema?: S;
  /** Media type of a body that is not JSON (a page, Prometheus text, an event stream). */
  contentType?: string;
  description: string;
}

/**
 * What one route is, for the OpenAPI document: every registration carries one, so no route can be
 * served without being documented. Request shapes are the very zod schemas the handler validates
 * with; response shapes are the schemas the handler's reply is type-checked against.
 *
 * @example
 * router.add('GET', '/v1/queues/:queue', async (ctx) => ({ status: 200, body: view(ctx) }), {
 *   summary: 'One queue', tag: 'queues', auth: 'tenant', params: { queue: nameSchema },
 *   response: { status: 200, schema: queueViewSchema, description: 'The queue' },
 *   errors: ['SLUICE_ERR_QUEUE_NOT_FOUND'],
 * });
 */
export interface RouteDoc<S extends z.ZodType | undefined = z.ZodType | undefined, Status extends number = number> {
  summary: string;
  description?: string;
  /** The group the route is listed under (one per route file: queues, pull, messages, ...). */
  tag: string;
  auth: RouteAuth;
  /** Schemas of path parameters by name; a parameter not listed is documented as a plain string. */
  params?: Record<string, z.ZodType>;
  /** Schema of the query parameters (an object of scalars, as the handler validates them). */
  query?: z.ZodObject;
  /** Schema of the JSON request body, as the handler validates it. */
  body?: z.ZodType;
  /** A body taken as raw bytes of any media type, never parsed (ingest): what is done with it. */
  rawBody?: string;
  response: RouteResponse<S, Status>;
  /**
   * Errors particular to this route. Those that follow from its shape are added by the document
   * builder: 401 for a key, 403 for the admin key, 400/413/415 for a body, 400 for a query.
   */
  errors?: readonly ErrorCode[];
}
