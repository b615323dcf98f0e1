import { Command, InvalidArgumentError } from 'commander';
import type { RunInput, RunState, WorkflowInput } from '../client/types.js';
import { RUN_STATES } from '../store/types.js';
import type { CliTools } from './vault-commands.js';

/**
 * `sluice workflows list|get|put|delete` and `sluice runs start|get|list|cancel`: workflows and
 * their runs through the API, one call each, printing the JSON answer as the other commands do.
 */
export function registerWorkflowCommands(program: Command, tools: CliTools): void {
  registerWorkflows(program, tools);
  registerRuns(program, tools);
}

const tenantOf = (options: { tenant?: string }) => (options.tenant ? { tenant: options.tenant } : {});

function registerWorkflows(program: Command, { connected, client, print, readDocument }: CliTools): void {
  const workflows = program.command('workflows').description('multi-step webhooks: steps that read earlier steps’ responses, with conditions, delays and branches');
  connected(workflows.command('list'))
    .description('list workflows')
    .option('--tenant <tenant>', "one tenant's (admin key)")
    .action(async (options) => print(await client(options).listWorkflows(tenantOf(options))));
  connected(workflows.command('get <name>'))
    .description('one workflow, its defaults filled in')
    .option('--tenant <tenant>', 'the owner (admin key)')
    .action(async (name: string, options) => print(await client(options).getWorkflow(name, tenantOf(options))));
  connected(workflows.command('put <name>'))
    .description('create or replace a workflow from a file (JSON or YAML: steps, queue, priority)')
    .requiredOption('-f, --file <file>', 'the workflow')
    .option('--tenant <tenant>', 'the owner (admin key)')
    .action(async (name: string, options) => print(await client(options).putWorkflow(name, readDocument(options.file) as WorkflowInput, tenantOf(options))));
  connected(workflows.command('delete <name>'))
    .description('delete a workflow: runs already going finish on the version they started with')
    .option('--tenant <tenant>', 'the owner (admin key)')
    .action(async (name: string, options) => {
      await client(options).deleteWorkflow(name, tenantOf(options));
      print({ name, deleted: true });
    });
}

function registerRuns(program: Command, { connected, client, print }: CliTools): void {
  const runs = program.command('runs').description('workflow runs: start one, follow its steps, cancel it');
  connected(runs.command('start <workflow>'))
    .description('start a run of a workflow (now, --at a time, or after --delay)')
    .option('--vars <json>', 'the variables, a JSON object, e.g. \'{"email":"a@b.c"}\'', jsonObject)
    .option('--at <time>', 'start at (RFC 3339 or epoch ms)')
    .option('--delay <ms>', 'start after this many ms', wholeNumber)
    .option('--idempotency-key <key>', 'the same key within 24 h answers the first run and starts none')
    .option('--tenant <tenant>', 'the owner of the workflow (admin key)')
    .action(async (workflow: string, options) => print(await client(options).startRun(workflow, runInput(options), tenantOf(options))));
  connected(runs.command('get <id>'))
    .description('one run with its steps: their states, attempts and responses')
    .action(async (id: string, options) => print(await client(options).getRun(id)));
  connected(runs.command('list <workflow>'))
    .description("a workflow's runs, newest first, one page (pass nextCursor to --cursor for the next)")
    .option('--state <state>', `only runs in this state: ${RUN_STATES.join(' | ')}`, runState)
    .option('--limit <n>', 'runs per page, 1 to 1000 (default 100)', wholeNumber)
    .option('--cursor <cursor>', 'the nextCursor of the previous page')
    .option('--tenant <tenant>', 'the owner of the workflow (admin key)')
    .action(async (workflow: string, options) => {
      const { state, limit, cursor, tenant } = options as { state?: RunState; limit?: number; cursor?: string; tenant?: string };
      print(await client(options).listRuns(workflow, { state, limit, cursor, tenant }));
    });
  connected(runs.command('cancel <id>'))
    .description('cancel a running run: its waiting step is never sent')
    .action(async (id: string, options) => print(await client(options).cancelRun(id)));
}

/** The body of `sluice runs start` from its options; the server checks the rest (both --at and --delay, a time past a year). */
function runInput(options: { vars?: Record<string, unknown>; at?: string; delay?: number; idempotencyKey?: string }): RunInput {
  const run: RunInput = {};
  if (options.vars !== undefined) run.vars = options.vars;
  if (options.at !== undefined) run.deliverAt = /^\d+$/.test(options.at) ? Number(options.at) : options.at;
  if (options.delay !== undefined) run.delayMs = options.delay;
  if (options.idempotencyKey !== undefined) run.idempotencyKey = options.idempotencyKey;
  return run;
}

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError('must be a JSON object');
  return value as Record<string, unknown>;
}

function runState(text: string): RunState {
  if (!(RUN_STATES as readonly string[]).includes(text)) throw new InvalidArgumentError(`one of ${RUN_STATES.join(', ')}`);
  return text as RunState;
}

function wholeNumber(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a whole number');
  return n;
}
