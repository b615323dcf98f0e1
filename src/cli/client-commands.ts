import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { SluiceClient } from '../client/client.js';
import type { OutboundMessageInput, ScheduleInput, ScheduleMessageInput, SourceInput, SourceTestRequest, TemplateMessageInput } from '../client/types.js';
import { registerVaultCommands, templateVars } from './vault-commands.js';
import { registerWorkflowCommands } from './workflow-commands.js';

interface Connection {
  url?: string;
  key?: string;
}

/** The thin clients: each is one API call, printing its JSON answer. */
export function registerClientCommands(program: Command): void {
  const connected = (command: Command) =>
    command
      .option('--url <url>', 'Sluice base URL (or SLUICE_URL)', process.env.SLUICE_URL ?? 'http://127.0.0.1:7070')
      .option('--key <key>', 'API key (or SLUICE_KEY)', process.env.SLUICE_KEY);

  connected(program.command('send [url]'))
    .description("send or schedule an outbound webhook (no url: the queue's url)")
    .option('-X, --method <method>', 'HTTP method', 'POST')
    .option('-H, --header <header...>', 'header "Name: value" (repeatable)')
    .option('--data <body>', 'body text, or @file to read it from a file')
    .option('--json <json>', 'body as JSON')
    .option('--at <time>', 'deliver at (RFC 3339 or epoch ms)')
    .option('--delay <ms>', 'deliver after this many ms', integer)
    .option('--queue <queue>', "push queue (default: the key's tenant's default queue)")
    .option('--idempotency-key <key>', 'same key within 24 h returns the first message')
    .option('--priority <0-9>', "0 (least urgent) to 9 (most urgent); default: the queue's", integer)
    .option('--template <name>', 'make the message from this template (its url, method, headers, body and queue) instead')
    .option('--var <path=value...>', 'with --template: a variable, as a string (repeatable), e.g. --var user.email=a@b.c')
    .option('--var-json <path=json...>', 'with --template: a variable as JSON (repeatable), e.g. --var-json user.age=42')
    .option('--tenant <tenant>', "with --template, admin key: the tenant whose template (default: default)")
    .action(async (url: string | undefined, options) => {
      if (options.template !== undefined) return print(await sendTemplate(url, options));
      const message: OutboundMessageInput = { method: options.method.toUpperCase() };
      if (url !== undefined) message.url = url;
      if (options.queue !== undefined) message.queue = options.queue;
      if (options.header) message.headers = parseHeaders(options.header);
      if (options.data !== undefined) message.body = options.data.startsWith('@') ? readFileSync(options.data.slice(1), 'utf8') : options.data;
      if (options.json !== undefined) message.body = JSON.parse(options.json);
      if (options.at !== undefined) message.deliverAt = /^\d+$/.test(options.at) ? Number(options.at) : options.at;
      if (options.delay !== undefined) message.delayMs = options.delay;
      if (options.idempotencyKey) message.idempotencyKey = options.idempotencyKey;
      if (options.priority !== undefined) message.priority = options.priority;
      print(await client(options).send(message));
    });

  connected(program.command('pull <queue>'))
    .description('lease messages from a pull queue (and ack them with --ack)')
    .option('-n, --max <n>', 'how many', integer, 10)
    .option('--wait <ms>', 'long-poll up to this long', integer, 0)
    .option('--visibility <ms>', 'lease length', integer)
    .option('--ack', 'acknowledge what was pulled')
    .action(async (queue: string, options) => {
      const sluice = client(options);
      const pulled = await sluice.pull(queue, { max: options.max, waitMs: options.wait, ...(options.visibility ? { visibilityTimeoutMs: options.visibility } : {}) });
      if (!options.ack || pulled.messages.length === 0) return print(pulled);
      print({ ...pulled, ack: await sluice.ack(queue, pulled.messages.map((m) => m.receipt)) });
    });

  connected(program.command('queues')).description('list queues with their depth').action(async (options) => print(await client(options).queues()));

  const queue = program.command('queue').description('one queue');
  connected(queue.command('delete <queue>'))
    .description('delete a queue with its dead letters (and, with --force, messages not yet delivered)')
    .option('--force', 'also delete messages not yet delivered, acked or dead')
    .action(async (name: string, options) => print(await client(options).deleteQueue(name, options.force === true)));

  registerSourceCommands(program, connected);
  registerVaultCommands(program, { connected, client, print, readDocument });
  registerWorkflowCommands(program, { connected, client, print, readDocument });

  const keys = program.command('keys').description("tenants' API keys (admin key)");
  connected(keys.command('list'))
    .description("list a tenant's keys (id, prefix, created, last used; never the key)")
    .requiredOption('--tenant <tenant>', 'the tenant')
    .action(async (options) => print(await client(options).listKeys(options.tenant)));
  connected(keys.command('create'))
    .description('create a key for a tenant; it is printed once')
    .requiredOption('--tenant <tenant>', 'the tenant')
    .action(async (options) => print(await client(options).createKey(options.tenant)));
  connected(keys.command('revoke <id>'))
    .description('revoke a key at once')
    .requiredOption('--tenant <tenant>', 'the tenant')
    .action(async (id: string, options) => {
      await client(options).revokeKey(options.tenant, id);
      print({ tenant: options.tenant, id, revoked: true });
    });

  const dead = program.command('dead').description('dead-letter queue');
  connected(dead.command('replay <queue>'))
    .description('replay dead messages (all, or --id)')
    .option('--id <id...>', 'only these message ids')
    .action(async (queue: string, options) => print(await client(options).replayDead(queue, options.id)));

  const limits = program.command('limits').description('domain limits');
  connected(limits.command('set <host>'))
    .description('set a domain limit live (host or host:port)')
    .option('--concurrency <n>', 'most requests in flight', integer)
    .option('--rate <perSecond>', 'steady requests per second', Number)
    .option('--burst <n>', 'requests allowed at once after idle', integer)
    .action(async (host: string, options) => {
      const limit: Record<string, number> = {};
      if (options.concurrency !== undefined) limit.concurrency = options.concurrency;
      if (options.rate !== undefined) limit.ratePerSecond = options.rate;
      if (options.burst !== undefined) limit.burst = options.burst;
      print(await client(options).setDomainLimit(host, limit));
    });

  const schedule = program.command('schedule').description('cron, interval and solar schedules');
  connected(schedule.command('add <name> [url]'))
    .description('add a schedule that sends to <url>, or makes its messages from --template')
    .option('--cron <expr>', 'cron expression (5 or 6 fields)')
    .option('--every <interval>', 'fixed interval, e.g. 30s, 5m, 1h')
    .option('--solar <event>', 'once a day at sunrise | sunset | solarNoon | dawn | dusk (needs --latitude, --longitude)')
    .option('--latitude <degrees>', 'solar: latitude, north positive (e.g. --latitude=-33.86)', decimal)
    .option('--longitude <degrees>', 'solar: longitude, east positive', decimal)
    .option('--offset-minutes <minutes>', 'solar: run this long after the event (negative: before)', decimal)
    .option('--timezone <tz>', 'IANA time zone of the cron, the solar dates and the exclusions', 'UTC')
    .option('--exclude-date <date...>', 'skip these local dates, YYYY-MM-DD (repeatable)')
    .option('--exclude-weekdays <days>', 'skip these local weekdays, e.g. sat,sun')
    .option('--exclude-time <from-to...>', 'skip this local window, e.g. 12:00-13:30; 22:00-06:00 wraps (repeatable)')
    .option('--start-at <time>', 'no run before this (RFC 3339); with --every the runs count from it')
    .option('--end-at <time>', 'no run after this (RFC 3339)')
    .option('--max-runs <n>', 'stop after this many runs', integer)
    .option('-X, --method <method>', 'HTTP method', 'POST')
    .option('--json <json>', 'body as JSON')
    .option('--data <body>', 'body text')
    .option('--queue <queue>', "push queue (default: the tenant's default queue)")
    .option('--missed <policy>', 'skip | once | all', 'once')
    .option('--template <name>', "make each message from this template of the schedule's tenant, instead of a url")
    .option('--var <path=value...>', 'with --template: a variable, as a string (repeatable)')
    .option('--var-json <path=json...>', 'with --template: a variable as JSON (repeatable)')
    .action(async (name: string, url: string | undefined, options) => {
      if ((url === undefined) === (options.template === undefined)) throw new InvalidArgumentError('give a url or --template (one of them)');
      const message: ScheduleMessageInput =
        options.template === undefined ? { url, method: options.method.toUpperCase() } : { template: options.template, vars: templateVars(options.var, options.varJson) };
      if (options.queue !== undefined) message.queue = options.queue;
      if (options.json !== undefined) message.body = JSON.parse(options.json);
      if (options.data !== undefined) message.body = options.data;
      // Several or none of --cron, --every and --solar go to the server as given: its 400 says which it needs.
      const schedule = { name, timezone: options.timezone, missed: options.missed, message, cron: options.cron, every: options.every } as ScheduleInput;
      Object.assign(schedule, scheduleOptions(options));
      print(await client(options).addSchedule(schedule));
    });
}

/** `sluice send --template`: the template gives url, method, headers, body and queue, so none of them may be given too. */
function sendTemplate(url: string | undefined, options: Record<string, any>) {
  const given = [url === undefined ? undefined : 'a url', ...(['header', 'data', 'json', 'queue'] as const).map((name) => (options[name] === undefined ? undefined : `--${name}`))];
  const clashes = given.filter((name) => name !== undefined);
  if (clashes.length > 0) throw new InvalidArgumentError(`--template gives the url, headers, body and queue: not with ${clashes.join(', ')}`);
  const message: TemplateMessageInput = { template: options.template, vars: templateVars(options.var, options.varJson) };
  if (options.at !== undefined) message.deliverAt = /^\d+$/.test(options.at) ? Number(options.at) : options.at;
  if (options.delay !== undefined) message.delayMs = options.delay;
  if (options.idempotencyKey) message.idempotencyKey = options.idempotencyKey;
  if (options.priority !== undefined) message.priority = options.priority;
  return client(options).send(message, options.tenant ? { tenant: options.tenant } : {});
}

/** The solar event, exclusions and ends of `sluice schedule add`, as the API takes them; the server checks them. */
function scheduleOptions(options: Record<string, string | string[] | number | undefined>): Partial<ScheduleInput> {
  const fields: Record<string, unknown> = {};
  if (options.solar !== undefined) {
    fields.solar = { event: options.solar, latitude: options.latitude, longitude: options.longitude, offsetMinutes: options.offsetMinutes };
  }
  const exclude: Record<string, unknown> = {};
  if (options.excludeDate !== undefined) exclude.dates = options.excludeDate;
  if (typeof options.excludeWeekdays === 'string') exclude.weekdays = options.excludeWeekdays.split(',').map((day) => day.trim().toLowerCase());
  if (Array.isArray(options.excludeTime)) exclude.times = options.excludeTime.map(timeWindow);
  if (Object.keys(exclude).length > 0) fields.exclude = exclude;
  if (options.startAt !== undefined) fields.startAt = options.startAt;
  if (options.endAt !== undefined) fields.endAt = options.endAt;
  if (options.maxRuns !== undefined) fields.maxRuns = options.maxRuns;
  return fields as Partial<ScheduleInput>;
}

/** "12:00-13:30" → { from: "12:00", to: "13:30" }. */
function timeWindow(text: string): { from: string; to: string } {
  const match = /^\s*(\S+?)\s*-\s*(\S+)\s*$/.exec(text);
  if (!match) throw new InvalidArgumentError(`a window looks like 12:00-13:30, got ${text}`);
  return { from: match[1]!, to: match[2]! };
}

/** `sluice sources list|get|put|delete|test`: sources through the API, one call each. */
function registerSourceCommands(program: Command, connected: (command: Command) => Command): void {
  const sources = program.command('sources').description('ingest sources and their routes');
  connected(sources.command('list'))
    .description("list sources with their routes and this node's counts")
    .option('--tenant <tenant>', "one tenant's (admin key)")
    .action(async (options) => print(await client(options).listSources(options.tenant ? { tenant: options.tenant } : {})));
  connected(sources.command('get <name>'))
    .description("one source with its routes and this node's counts")
    .action(async (name: string, options) => print(await client(options).getSource(name)));
  connected(sources.command('put <name>'))
    .description('create or replace a source from a file (JSON or YAML, the shape of a sluice.yaml source)')
    .requiredOption('-f, --file <file>', 'the source definition')
    .option('--tenant <tenant>', 'the owner (admin key; default: its owner, else default)')
    .action(async (name: string, options) => {
      const source = readDocument(options.file) as SourceInput;
      print(await client(options).putSource(name, source, options.tenant ? { tenant: options.tenant } : {}));
    });
  connected(sources.command('delete <name>'))
    .description('delete a source: /in/<name> answers 404 from then on')
    .action(async (name: string, options) => {
      await client(options).deleteSource(name);
      print({ name, deleted: true });
    });
  connected(sources.command('test <name>'))
    .description('dry run: which routes a request would take, and why (nothing is stored)')
    .option('-f, --file <file>', 'the request, JSON or YAML: { method, headers, query, path, body }')
    .action(async (name: string, options) => {
      const request = (options.file === undefined ? {} : readDocument(options.file)) as SourceTestRequest;
      print(await client(options).testSource(name, request));
    });
}

/** A JSON or YAML file (YAML reads JSON too), with its name in the error when it does not parse. */
function readDocument(file: string): unknown {
  try {
    return parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
  }
}

function client(options: Connection): SluiceClient {
  return new SluiceClient({ url: options.url ?? 'http://127.0.0.1:7070', key: options.key });
}

function parseHeaders(lines: string[]): Record<string, string> {
  // No prototype: `-H '__proto__: x'` must be a header, not a prototype assignment that drops it.
  const headers = Object.create(null) as Record<string, string>;
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new InvalidArgumentError(`header must look like "Name: value", got ${line}`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function decimal(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a whole number');
  return n;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
