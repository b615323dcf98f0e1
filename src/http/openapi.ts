import { z } from 'zod';
import { VERSION } from '../version.js';
import { namedApiSchemas } from './api-schemas.js';
import { ERRORS, problemSchema, type ErrorCode } from './errors.js';
import type { RouteDoc } from './route-doc.js';

/** One route as the document lists it: method, registered path (`/v1/queues/:queue`), description. */
export interface DocumentedRoute {
  method: string;
  path: string;
  doc: RouteDoc;
}

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

const COMPONENT_REF = '#/components/schemas/';

/** The codes every route with a JSON body may answer, whatever its schema. */
const JSON_BODY_ERRORS: readonly ErrorCode[] = [
  'SLUICE_ERR_INVALID_JSON',
  'SLUICE_ERR_JSON_TOO_DEEP',
  'SLUICE_ERR_VALIDATION',
  'SLUICE_ERR_BODY_TOO_LARGE',
  'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE',
];

const SECURITY: Record<RouteDoc['auth'], Record<string, string[]>[]> = {
  admin: [{ adminKey: [] }],
  tenant: [{ adminKey: [] }, { tenantKey: [] }],
  none: [],
  'source-signature': [],
};

const TAGS = [
  { name: 'ingest', description: 'The providers\' side: public endpoints that store each request as it came' },
  { name: 'pull', description: 'Consumers lease, acknowledge, hand back and extend messages of pull queues' },
  { name: 'messages', description: 'Outbound webhooks: send now or at a time, inspect, list, cancel' },
  { name: 'schedules', description: 'Cron and interval schedules that send a message at each tick' },
  { name: 'workflows', description: 'Multi-step webhooks: steps that read earlier responses, with conditions, delays, retries and branches; their runs' },
  { name: 'queues', description: 'Queue definitions, pause and resume, depth, dead letters' },
  { name: 'sources', description: 'Ingest endpoints made through the API: routes to queues with filters, per-route counts, a dry run' },
  { name: 'limits', description: 'Per-domain and per-tenant limits, changed live' },
  { name: 'tenants', description: 'Tenants and their API keys' },
  { name: 'monitoring', description: 'Stats, the live stream, Prometheus metrics and health' },
  { name: 'reference', description: 'This document and the pages built on it' },
];

/**
 * The OpenAPI 3.1 document of every route given. Request schemas are the zod schemas the handlers
 * validate with, response schemas those their replies are type-checked against, both converted by
 * zod's own `z.toJSONSchema` (JSON Schema 2020-12, which OpenAPI 3.1 uses as is). Named response
 * shapes (see apiSchema) and each route's answer become components; request shapes are written in place.
 */
export function buildOpenApiDocument(routes: readonly DocumentedRoute[]): Record<string, unknown> {
  const responseNames = responseComponentNames(routes);
  const components = responseComponents(responseNames);
  const paths: Record<string, Record<string, Operation>> = {};
  const seenIds = new Set<string>();
  for (const route of routes) {
    const id = operationId(route.method, route.path);
    if (seenIds.has(id)) throw new Error(`two routes would both be operation ${id}: ${route.method} ${route.path}`);
    seenIds.add(id);
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route, id, responseNames);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice',
      version: VERSION,
      description:
        'Self-hosted webhook traffic guard: durable ingest, pull queues and rate-limited push delivery. ' +
        'Errors are RFC 9457 problem+json with a stable `code`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: TAGS,
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        adminKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin key (SLUICE_ADMIN_KEY, or the one generated and printed at first start): every route, every tenant.',
        },
        tenantKey: {
          type: 'http',
          scheme: 'bearer',
          description: "A tenant key (POST /v1/tenants/{tenant}/keys): that tenant's queues, messages and schedules only.",
        },
      },
    },
  };
}

/** `/v1/queues/:queue` → `/v1/queues/{queue}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** `GET /v1/queues/:queue/dead` → `getQueuesByQueueDead`: stable, and readable in generated clients. */
function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((segment) => segment !== '' && segment !== 'v1')
    .flatMap((segment) => (segment.startsWith(':') ? ['by', segment.slice(1)] : segment.split(/[^A-Za-z0-9]+/)))
    .filter((word) => word !== '');
  return method.toLowerCase() + words.map(capitalise).join('');
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

// ── operations ────────────────────────────────────────────────

function operation(route: DocumentedRoute, id: string, responseNames: Map<z.ZodType, string>): Operation {
  const { doc } = route;
  const op: Operation = { operationId: id, summary: doc.summary, tags: [doc.tag] };
  const description = [doc.description, authNote(doc.auth)].filter(Boolean).join('\n\n');
  if (description) op.description = description;
  op.security = SECURITY[doc.auth];
  op['x-sluice-auth'] = doc.auth;
  const parameters = [...pathParameters(route), ...queryParameters(doc)];
  if (parameters.length > 0) op.parameters = parameters;
  if (doc.body) {
    op.requestBody = {
      // readJson takes an empty body as {}: the body is optional exactly when {} is valid.
      required: !doc.body.safeParse({}).success,
      content: { 'application/json': { schema: inputSchema(doc.body) } },
    };
  } else if (doc.rawBody) {
    op.requestBody = { required: false, description: doc.rawBody, content: { '*/*': {} } };
  }
  op.responses = { ...successResponses(doc, responseNames), ...errorResponses(doc) };
  return op;
}

function authNote(auth: RouteDoc['auth']): string | undefined {
  if (auth === 'admin') return 'Needs the admin key.';
  if (auth === 'source-signature') {
    return "Public. A source with `verify` configured checks the provider's signature (Stripe, GitHub, Shopify, Standard Webhooks, HMAC or a shared token) and refuses a request without a valid one: 401, nothing stored.";
  }
  return undefined;
}

function pathParameters(route: DocumentedRoute): JsonSchema[] {
  const names = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((found) => found[1]!);
  return names.map((name) => {
    const given = route.doc.params?.[name];
    const schema = given ? inputSchema(given) : { type: 'string' };
    return withDescription({ name, in: 'path', required: true, schema }, schema);
  });
}

function queryParameters(doc: RouteDoc): JsonSchema[] {
  if (!doc.query) return [];
  const schema = inputSchema(doc.query);
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, property]) => withDescription({ name, in: 'query', required: required.has(name), schema: property }, property));
}

/** A parameter shows its schema's description as its own, where Swagger UI looks for it. */
function withDescription(parameter: JsonSchema, schema: JsonSchema): JsonSchema {
  return typeof schema.description === 'string' ? { ...parameter, description: schema.description } : parameter;
}

function successResponses(doc: RouteDoc, responseNames: Map<z.ZodType, string>): Record<string, unknown> {
  const { response } = doc;
  const statuses: readonly number[] = typeof response.status === 'number' ? [response.status] : response.status;
  let content: Record<string, unknown> | undefined;
  if (response.schema) content = { [response.contentType ?? 'application/json']: { schema: { $ref: COMPONENT_REF + responseNames.get(response.schema)! } } };
  else if (response.contentType) content = { [response.contentType]: { schema: { type: 'string' } } };
  const answers: Record<string, unknown> = {};
  for (const status of statuses) answers[String(status)] = content ? { description: response.description, content } : { description: response.description };
  return answers;
}

/** The error answers of a route: its own, those that follow from its shape, and a default for the rest. */
function errorResponses(doc: RouteDoc): Record<string, unknown> {
  const codes = new Set<ErrorCode>(doc.errors ?? []);
  if (doc.auth === 'admin' || doc.auth === 'tenant') codes.add('SLUICE_ERR_UNAUTHORIZED');
  if (doc.auth === 'admin') codes.add('SLUICE_ERR_FORBIDDEN');
  if (doc.body) for (const code of JSON_BODY_ERRORS) codes.add(code);
  if (doc.rawBody) codes.add('SLUICE_ERR_BODY_TOO_LARGE');
  if (doc.query) codes.add('SLUICE_ERR_VALIDATION');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const answers: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    answers[String(status)] = problemResponse(list.map((code) => `\`${code}\`: ${ERRORS[code].title}`).join('; '), list);
  }
  answers.default = problemResponse(
    'Any other error, as problem+json: 500 `SLUICE_ERR_INTERNAL`; 503 `SLUICE_ERR_STORAGE_UNAVAILABLE` or `SLUICE_ERR_SHUTTING_DOWN` with Retry-After, nothing stored.',
  );
  return answers;
}

/** An error answer; `codes` narrows the Problem schema to the codes this status stands for here. */
function problemResponse(description: string, codes?: ErrorCode[]): Record<string, unknown> {
  const problem = { $ref: COMPONENT_REF + 'Problem' };
  const schema = codes ? { allOf: [problem, { properties: { code: { enum: codes } } }] } : problem;
  return { description, content: { 'application/problem+json': { schema, example: exampleProblem(codes?.[0] ?? 'SLUICE_ERR_INTERNAL') } } };
}

/** What toProblem would send for `code` (a schema-made example would show the first code of every error). */
function exampleProblem(code: ErrorCode): Record<string, unknown> {
  const { status, title } = ERRORS[code];
  return { type: `urn:sluice:error:${code}`, title, status, detail: title, code };
}

// ── schemas ───────────────────────────────────────────────────

/** A request schema as JSON Schema: what a client may send (defaults make a field optional). */
function inputSchema(schema: z.ZodType): JsonSchema {
  return standalone(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override: dropSafeIntegerBounds }) as JsonSchema);
}

/** Each response schema's component name: its apiSchema name, or its first route's `<OperationId>Response`. */
function responseComponentNames(routes: readonly DocumentedRoute[]): Map<z.ZodType, string> {
  const names = new Map<z.ZodType, string>();
  for (const [name, schema] of namedApiSchemas()) names.set(schema, name);
  names.set(problemSchema, 'Problem');
  for (const route of routes) {
    const schema = route.doc.response.schema;
    if (schema && !names.has(schema)) names.set(schema, `${capitalise(operationId(route.method, route.path))}Response`);
  }
  return names;
}

/**
 * Every response schema, converted in one pass over a registry so that a named shape nested in
 * another (a Message in a page of messages) is a `$ref` to its component, not a copy.
 */
function responseComponents(names: Map<z.ZodType, string>): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of names) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, { io: 'output', unrepresentable: 'any', override: dropSafeIntegerBounds, uri: (id) => COMPONENT_REF + id });
  const known = new Set(names.values());
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(converted.schemas)) {
    if (!known.has(id)) throw new Error(`zod made a schema component ${id} no route names: give the shared schema a name with apiSchema`);
    schemas[id] = standalone(schema as JsonSchema);
  }
  return schemas;
}

/** zod bounds every integer by the safe integer range: true of any JSON number a client handles, so left out. */
function dropSafeIntegerBounds({ jsonSchema }: { jsonSchema: JsonSchema }): void {
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
}

/**
 * A converted schema fit to sit inside the document: no `$schema` or `$id` of its own (the document
 * is the resource), and no `$defs`, whose `#/$defs/...` references would resolve against the
 * document root. zod writes `$defs` only for recursive or id-carrying schemas; the API has neither.
 */
function standalone(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  if ('$defs' in rest) throw new Error(`an API schema needs $defs (${Object.keys(rest.$defs as object).join(', ')}): name it with apiSchema instead`);
  return rest;
}
