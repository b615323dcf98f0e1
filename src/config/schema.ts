import { z } from 'zod';
import { retryPolicySchema } from '../delivery/retry-policy.js';
import { verifyConfigSchema } from '../ingest/verify/index.js';
import { dedupeConfigSchema } from '../ingest/dedupe.js';
import { CronParseError, isValidTimeZone, parseCron } from '../scheduler/cron.js';
import { EveryParseError, parseEvery } from '../scheduler/every.js';
import { MAX_ROUTES, routeSchema } from '../routing/routes.js';
import { secretReference, urlTemplateProblem } from '../templates/placeholders.js';
import { conditionSchema } from '../routing/conditions.js';
import { END, graphIssues, STEP_ROOTS } from '../workflows/graph.js';
import { checkScheduleTiming, scheduleTimingFields } from './schedule-timing.js';

/**
 * The one schema of Sluice's configuration: every option, its default and what it means.
 * `sluice.yaml`, the environment and CLI flags all end up validated here; the HTTP API reuses
 * the queue, limit and schedule parts so that one definition serves both.
 */

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 characters of letters, digits, ".", "_" or "-"');

/** Queue and tenant names share one alphabet: safe in URLs, logs and metric labels. */
export const nameSchema = name;

const positiveInt = z.number().int().positive();

/** A message's priority: 0 (least urgent) to 9 (most); 5 when not given. */
export const prioritySchema = z.number().int().min(0).max(9).meta({ description: '0 (least urgent) to 9 (most urgent); 5 when not given' });

/** An HTTP field name: an RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * An HTTP field value as node:http and undici will send it: tab, visible ASCII, space and Latin-1.
 * CR and LF would split the request (header injection), NUL and other controls are refused by every
 * HTTP stack, and a value no client can send would only fail at delivery time, again and again.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEADER_VALUE = 16_384;
const MAX_HEADERS = 256;

/**
 * The one schema of a header map a user gives (API messages, schedule templates, a source's
 * response): names are tokens, values have no CR, LF, NUL or other control characters.
 *
 * Not `z.record`: zod builds a record by assignment into `{}`, which turns a header named
 * `__proto__` into a prototype change and drops it. The map comes out with a null prototype, so
 * `constructor`, `toString` or `__proto__` are headers like any other, never Object's own members.
 */
export const headerMapSchema = z
  .unknown()
  .optional()
  .transform((value, ctx): Record<string, string> => {
    const headers = Object.create(null) as Record<string, string>;
    if (value === undefined) return headers;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      ctx.issues.push({ code: 'custom', message: 'must be an object of header names to string values', input: value });
      return z.NEVER;
    }
    const entries = Object.entries(value);
    if (entries.length > MAX_HEADERS) {
      ctx.issues.push({ code: 'custom', message: `at most ${MAX_HEADERS} headers`, input: value });
      return z.NEVER;
    }
    let valid = true;
    for (const [name, item] of entries) {
      const problem = headerProblem(name, item);
      if (problem === undefined) {
        headers[name] = item as string;
      } else {
        ctx.issues.push({ code: 'custom', message: problem, input: item, path: [name] });
        valid = false;
      }
    }
    return valid ? headers : z.NEVER;
  })
  // The same rules as a JSON Schema, for the OpenAPI document: a transform has no such form of its own.
  .meta({
    type: 'object',
    maxProperties: MAX_HEADERS,
    propertyNames: { pattern: HEADER_NAME.source },
    additionalProperties: { type: 'string', maxLength: MAX_HEADER_VALUE, pattern: HEADER_VALUE.source },
    description: 'Header names to values',
    examples: [{ 'content-type': 'application/json' }],
  });

function headerProblem(name: string, value: unknown): string | undefined {
  if (!HEADER_NAME.test(name)) return `${JSON.stringify(name)} is not a valid header name (letters, digits and !#$%&'*+.^_\`|~- only)`;
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > MAX_HEADER_VALUE) return `must be at most ${MAX_HEADER_VALUE} characters`;
  if (!HEADER_VALUE.test(value)) return 'must not contain CR, LF, NUL or other control characters';
  return undefined;
}

/** Limits that apply to every delivery to one destination host. */
export const domainLimitSchema = z
  .object({
    /** Most requests in flight to the host at once. */
    concurrency: positiveInt.max(100_000).optional(),
    /** Steady request rate (may be fractional, e.g. 0.5 for one every 2 s). */
    ratePerSecond: z.number().positive().max(1_000_000).optional(),
    /** How many requests may go at once after idle time; 1 = strictly spaced. Needs ratePerSecond. */
    burst: positiveInt.max(1_000_000).optional(),
  })
  .strict();
export type DomainLimit = z.infer<typeof domainLimitSchema>;

/** Limits of one tenant. Each is optional; a PUT through the API replaces all of them at once. */
export const tenantLimitSchema = z
  .object({
    /** Most deliveries of the tenant's push queues in flight at once. */
    concurrency: positiveInt.max(1_000_000).optional(),
    /**
     * Quota: most messages waiting (scheduled, ready, leased or in flight) in all the tenant's queues
     * together. Past it, ingest and POST /v1/messages answer 429 SLUICE_ERR_TENANT_QUOTA with
     * Retry-After, so one tenant cannot fill the disk for everyone.
     */
    maxDepth: positiveInt.optional(),
    /**
     * Quota: most bytes (body and headers) of all the tenant's stored messages together, in any state:
     * delivered and acked ones count until retention deletes them. Past it, the same 429 as maxDepth.
     */
    maxStoredBytes: positiveInt.optional(),
  })
  .strict()
  .refine((limit) => limit.concurrency !== undefined || limit.maxDepth !== undefined || limit.maxStoredBytes !== undefined, {
    message: 'set at least one of concurrency, maxDepth, maxStoredBytes',
  });
export type TenantLimit = z.infer<typeof tenantLimitSchema>;

const timeoutsSchema = z
  .object({
    /** TCP (and TLS) connect timeout. */
    connectMs: positiveInt.max(120_000).default(5_000),
    /** The whole response, headers and body. */
    responseMs: positiveInt.max(600_000).default(30_000),
  })
  .strict();

/** A queue: a durable FIFO log, either pulled by consumers or pushed to an HTTP target. */
export const queueConfigSchema = z
  .object({
    mode: z.enum(['pull', 'push']).default('pull'),
    /** Owner tenant. */
    tenant: name.default('default'),
    /** Push: the default target for messages that do not name their own. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** Push: strict holds a failing head in its lane; relaxed retries it later and moves on. */
    ordering: z.enum(['relaxed', 'strict']).default('relaxed'),
    /** Ingest answers 503 once this many messages wait (scheduled, ready, leased or in flight). */
    maxDepth: positiveInt.default(1_000_000),
    /** Pull: a message received more often than this goes to dead. */
    maxReceives: positiveInt.max(1_000).default(10),
    /** Pull: default lease length. */
    visibilityTimeoutMs: positiveInt.max(12 * 3_600_000).default(30_000),
    retry: retryPolicySchema.prefault({}),
    timeouts: timeoutsSchema.prefault({}),
    /**
     * Push: sign deliveries with Standard Webhooks headers using this whsec_ secret, or the vault
     * secret `{{ secrets.name }}` of the queue's tenant holding one (read at each delivery).
     */
    signingSecret: z
      .string()
      .refine((secret) => /^whsec_[A-Za-z0-9+/=]+$/.test(secret) || secretReference(secret) !== undefined, 'must look like whsec_<base64>, or name a vault secret as {{ secrets.name }}')
      .optional(),
    paused: z.boolean().default(false),
    /** Stamped on each message created in the queue (ingest, API, schedules) that names none. */
    priority: prioritySchema.default(5),
  })
  .strict();
export type QueueConfig = z.infer<typeof queueConfigSchema>;

const responseSchema = z
  .object({
    status: z.number().int().min(200).max(299).default(202),
    headers: headerMapSchema,
    /** Sent as given; `{id}` is replaced by the stored message id, and for a request that started workflow runs `{run}` by the first run's id. */
    body: z.string().max(65_536).optional(),
  })
  .strict();

const handshakeSchema = z
  .object({
    /** Meta (Facebook, WhatsApp, Instagram) subscription check: echo hub.challenge when hub.verify_token matches. */
    type: z.literal('meta'),
    verifyToken: z.string().min(1),
  })
  .strict();

/**
 * A public ingest endpoint, /in/{source}. It feeds one `queue`, starts a run of one `workflow` (of
 * the source's tenant, with the request in `vars.request`), or goes several ways through `routes`
 * (routing/routes.ts): every route whose `when` holds gets a message or starts a run, or only the
 * first with `first: true`; `fallback` takes what no route matched.
 */
export const sourceConfigSchema = z
  .object({
    queue: name.optional(),
    /** Start a run of this workflow of the source's tenant for each request, instead of feeding a queue. */
    workflow: name.optional(),
    routes: z.array(routeSchema).min(1).max(MAX_ROUTES).optional(),
    first: z.boolean().optional(),
    fallback: name.optional(),
    verify: verifyConfigSchema.optional(),
    dedupe: dedupeConfigSchema.optional(),
    response: responseSchema.optional(),
    handshake: handshakeSchema.optional(),
    /** Largest body accepted; defaults to server.maxBodyBytes. */
    maxBodyBytes: positiveInt.max(64 * 1024 * 1024).optional(),
  })
  .strict()
  .superRefine((source, ctx) => {
    const ways = [source.queue, source.workflow, source.routes].filter((way) => way !== undefined).length;
    if (ways !== 1) {
      const path = source.workflow !== undefined && ways > 1 ? 'workflow' : 'queue';
      ctx.addIssue({ code: 'custom', path: [path], message: 'a source names either one queue, one workflow or routes' });
    }
    if (source.routes === undefined) {
      for (const field of ['first', 'fallback'] as const) {
        if (source[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'only a source with routes has it' });
      }
    }
    const names = new Set<string>();
    source.routes?.forEach((route, index) => {
      if (route.name === undefined) return;
      if (names.has(route.name)) ctx.addIssue({ code: 'custom', path: ['routes', index, 'name'], message: `two routes are named ${route.name}` });
      names.add(route.name);
    });
  });
export type SourceConfig = z.infer<typeof sourceConfigSchema>;

/** The variables of a message made from a template: a JSON object (a `__proto__` key stays a key). */
export const templateVarsSchema = z
  .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'must be an object of variables')
  .meta({ type: 'object', description: 'Values for `{{ vars.… }}`: any JSON; a dotted path reads into objects and arrays' });

/**
 * A webhook defined once (PUT /v1/templates/{name}, sluice.yaml `templates:`), with `{{ vars.a.b }}`
 * and `{{ secrets.name }}` in any string: url, header values, body (templates/render.ts). Variables
 * are filled when a message is made from it; secrets when the message is sent.
 */
export const templateConfigSchema = z
  .object({
    /** The target; absent: the queue's url. A secret may stand in its path or query, not in its scheme, host or port. */
    url: z.string().min(1).max(8_192).optional(),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: headerMapSchema,
    /** A string is sent as text; any other JSON value as JSON, where a string that is exactly one placeholder takes the variable's JSON value. */
    body: z.unknown().optional(),
    /** A push queue of the template's tenant; absent: the tenant's default outbound queue. */
    queue: name.optional(),
    retry: retryPolicySchema.optional(),
    priority: prioritySchema.optional(),
  })
  .strict()
  .superRefine((template, ctx) => {
    const problem = template.url === undefined ? undefined : urlTemplateProblem(template.url);
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  });
export type TemplateConfig = z.infer<typeof templateConfigSchema>;

/** The most steps a workflow defines, and the most a run takes (a loop takes steps again). */
export const MAX_WORKFLOW_STEPS = 100;
/** A step's own delay, at most a year like any message's. */
const MAX_STEP_DELAY_MS = 366 * 24 * 3_600_000;

/** One step of a workflow: a request template that may also read earlier steps' responses. */
export const workflowStepSchema = z
  .object({
    name,
    request: z
      .object({
        /** The target; absent: the workflow's queue's url. May hold `{{ vars.… }}`, `{{ steps.… }}` and, outside its origin, `{{ secrets.… }}`. */
        url: z.string().min(1).max(8_192).optional(),
        method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
        headers: headerMapSchema,
        body: z.unknown().optional(),
      })
      .strict()
      .superRefine((request, ctx) => {
        const problem = request.url === undefined ? undefined : urlTemplateProblem(request.url, STEP_ROOTS);
        if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
      }),
    /** The step runs only when this holds (paths start with vars or steps); else it is skipped. */
    when: conditionSchema(['vars', 'steps']).optional(),
    /** Wait this long after the step before it (or after the run's start) before sending. */
    delayMs: z.number().int().min(0).max(MAX_STEP_DELAY_MS).optional(),
    retry: retryPolicySchema.optional(),
    /** Where to go once delivered: a step's name or "end"; absent: the next step. */
    onSuccess: name.optional(),
    /** Where to go once the step failed (dead): a step's name or "end"; absent: the run fails. */
    onFailure: name.optional(),
  })
  .strict();
export type WorkflowStepConfig = z.infer<typeof workflowStepSchema>;

/** A workflow as PUT /v1/workflows/{name} and sluice.yaml's `workflows:` take it. */
export const workflowConfigSchema = z
  .object({
    steps: z.array(workflowStepSchema).min(1).max(MAX_WORKFLOW_STEPS),
    /** A push queue of the workflow's tenant for every step; absent: the tenant's default outbound queue. */
    queue: name.optional(),
    priority: prioritySchema.optional(),
  })
  .strict()
  .superRefine((workflow, ctx) => {
    for (const issue of graphIssues(workflow.steps)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });
export type WorkflowConfig = z.infer<typeof workflowConfigSchema>;
export { END as WORKFLOW_END };

/** The template a schedule turns into one message at each tick. */
export const messageTemplateSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).optional(),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: headerMapSchema,
    body: z.unknown().optional(),
    queue: name.default('outbound'),
    priority: prioritySchema.optional(),
    /**
     * A template of the schedule's tenant to make each message from (its url, method, headers, body,
     * retry and queue; `queue` here is used when the template names none), instead of url, headers
     * and body here. Its secrets are filled when each message is sent.
     */
    template: name.optional(),
    /** With `template`: its variables, filled at each tick. */
    vars: templateVarsSchema.optional(),
  })
  .strict()
  .superRefine((message, ctx) => {
    if (message.template === undefined) {
      if (message.vars !== undefined) ctx.addIssue({ code: 'custom', path: ['vars'], message: 'only with a template' });
      return;
    }
    const given: string[] = [];
    if (message.url !== undefined) given.push('url');
    if (message.body !== undefined) given.push('body');
    if (Object.keys(message.headers).length > 0) given.push('headers');
    for (const field of given) ctx.addIssue({ code: 'custom', path: [field], message: 'not with a template: the template gives it' });
  });

/**
 * What a schedule starts at each tick instead of sending a message: a run of a workflow of the
 * schedule's tenant, with these variables.
 */
export const scheduledWorkflowSchema = z
  .object({
    name,
    vars: templateVarsSchema.optional(),
  })
  .strict();
export type ScheduledWorkflow = z.infer<typeof scheduledWorkflowSchema>;

/** A schedule's fields without the checks across them: what PATCH may send a subset of. */
export const scheduleFieldsSchema = z
  .object({
    cron: z.string().min(1).max(256).optional(),
    every: z.string().min(1).max(64).optional(),
    timezone: z
      .string()
      .refine(isValidTimeZone, { error: (issue) => `unknown time zone ${JSON.stringify(issue.input)}: use an IANA name such as "Europe/Berlin" or "UTC"` })
      .default('UTC'),
    missed: z.enum(['skip', 'once', 'all']).default('once'),
    paused: z.boolean().default(false),
    tenant: name.default('default'),
    /** The message each tick sends; or `workflow`. */
    message: messageTemplateSchema.optional(),
    /** The workflow run each tick starts, instead of a message. */
    workflow: scheduledWorkflowSchema.optional(),
    ...scheduleTimingFields,
  })
  .strict();

export const scheduleConfigSchema = scheduleFieldsSchema
  .superRefine(checkScheduleTiming)
  .superRefine((s, ctx) => {
    if ((s.message === undefined) === (s.workflow === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.message === undefined ? 'message' : 'workflow'], message: 'a schedule has either a message or a workflow' });
    }
    // Here and not only when the runner saves it, so that sluice.yaml (exit 2 naming
    // `schedules.<name>.cron`), POST and PATCH refuse alike.
    if (s.every !== undefined) {
      try {
        parseEvery(s.every);
      } catch (error) {
        if (!(error instanceof EveryParseError)) throw error;
        ctx.issues.push({ code: 'custom', message: error.message, input: s.every, path: ['every'] });
      }
    }
    if (s.cron === undefined) return;
    try {
      parseCron(s.cron, s.timezone);
    } catch (error) {
      if (!(error instanceof CronParseError)) throw error;
      ctx.issues.push({ code: 'custom', message: error.message, input: s[error.field], path: [error.field] });
    }
  });
export type ScheduleConfig = z.infer<typeof scheduleConfigSchema>;

const serverSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(7070),
    /** Largest request body accepted anywhere (ingest and API). */
    maxBodyBytes: positiveInt.max(64 * 1024 * 1024).default(1_048_576),
    /** Most connections open at once; a connection beyond is closed as it comes. */
    maxConnections: positiveInt.default(4_096),
    /**
     * Most bytes of request bodies held while they arrive and are not authenticated yet (ingest:
     * a signature needs the whole body), all requests together. Past it, the body that has been
     * arriving longest is cut off with 503 + Retry-After. At least maxBodyBytes.
     */
    maxPendingBodyBytes: positiveInt.default(64 * 1024 * 1024),
    /** A request body not complete this long after its headers gets 408, and its connection is closed. */
    bodyTimeoutMs: positiveInt.max(3_600_000).default(30_000),
    /** On SIGTERM, how long to wait for in-flight work before closing anyway. */
    shutdownTimeoutMs: positiveInt.default(10_000),
  })
  .strict();

const storageSchema = z
  .object({
    /** Path of the embedded SQLite database; defaults to <data dir>/sluice.db. */
    sqlite: z.string().min(1).optional(),
    /**
     * A postgres:// URL: storage moves to PostgreSQL, where several nodes can share it (or set
     * SLUICE_DATABASE_URL). The SQLite settings then do not apply.
     */
    postgres: z.string().min(1).optional(),
    /** The PostgreSQL schema holding Sluice's tables (created when missing). */
    postgresSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lowercase letters, digits and _, not starting with a digit, at most 63')
      .default('sluice'),
    /** Connections each node keeps to PostgreSQL. */
    postgresPoolSize: positiveInt.max(1_000).default(10),
    /** Longest a PostgreSQL statement may run before it is cancelled. */
    postgresStatementTimeoutMs: positiveInt.max(3_600_000).default(30_000),
    /** fsync: a commit survives a power cut; os: survives process crashes only, faster. */
    durability: z.enum(['fsync', 'os']).default('fsync'),
    /** Delivered, acked and cancelled messages are deleted after this long. */
    retentionMs: positiveInt.default(7 * 24 * 3_600_000),
    /** Most messages one group commit writes. */
    maxBatch: positiveInt.max(100_000).default(2_000),
  })
  .strict();

const networkSchema = z
  .object({
    /** Hosts (host or host:port) that may resolve to private addresses, or true for all. */
    allowPrivate: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
  })
  .strict();

const limitsSchema = z
  .object({
    defaultDomain: domainLimitSchema.default({ concurrency: 10 }),
    domains: z.record(z.string(), domainLimitSchema).default({}),
    tenants: z.record(name, tenantLimitSchema).default({}),
    /** Most deliveries in flight from this node, all domains together. */
    global: z.object({ concurrency: positiveInt.max(1_000_000).default(1_000) }).strict().prefault({}),
    /**
     * Several nodes on one PostgreSQL without shared (Redis) limits: each node enforces every limit on
     * its own, so N nodes together may reach N times a limit. Without it, a second node is refused.
     */
    perNode: z.boolean().default(false),
    /**
     * Redis holding the limits shared by every node of a cluster (SLUICE_REDIS_URL): domain, tenant
     * and global concurrency, rate, Retry-After pauses, AIMD and circuits. Needs storage.postgres.
     */
    redis: z.string().min(1).max(2_048).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    server: serverSchema.prefault({}),
    storage: storageSchema.prefault({}),
    network: networkSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    queues: z.record(name, queueConfigSchema).default({}),
    sources: z.record(name, sourceConfigSchema).default({}),
    schedules: z.record(name, scheduleConfigSchema).default({}),
    /** Templates of the tenant `default`, the same shape as PUT /v1/templates/{name}; changed only here. */
    templates: z.record(name, templateConfigSchema).default({}),
    /** Workflows of the tenant `default`, the same shape as PUT /v1/workflows/{name}; changed only here. */
    workflows: z.record(name.refine((value) => value !== 'runs', '"runs" cannot name a workflow'), workflowConfigSchema).default({}),
    log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info') }).strict().prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    // A body that cannot fit in the room for pending bodies would be cut off every time.
    const room = config.server.maxPendingBodyBytes;
    const bodies: [string[], number][] = [[['server', 'maxBodyBytes'], config.server.maxBodyBytes]];
    for (const [name, source] of Object.entries(config.sources)) if (source.maxBodyBytes) bodies.push([['sources', name, 'maxBodyBytes'], source.maxBodyBytes]);
    for (const [path, bytes] of bodies) {
      if (bytes > room) ctx.addIssue({ code: 'custom', path, message: `must not exceed server.maxPendingBodyBytes (${room})` });
    }
  });

export type SluiceConfig = z.infer<typeof configSchema>;
