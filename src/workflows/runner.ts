import { MAX_WORKFLOW_STEPS, workflowConfigSchema, type WorkflowConfig, type WorkflowStepConfig } from '../config/schema.js';
import { TenantCatalog } from '../config/tenant-catalog.js';
import type { StepEnd, StepHook } from '../delivery/dispatcher.js';
import type { DeliveryResult } from '../delivery/http-client.js';
import { SluiceError } from '../http/errors.js';
import type { Logger } from '../observe/logger.js';
import type { EventBus } from '../observe/events.js';
import type { GroupCommitWriter } from '../ingest/group-commit-writer.js';
import { resolveDeliverAt } from '../queues/outbound-message.js';
import { evaluate, readJsonPath, type JsonValue, type Resolve } from '../routing/conditions.js';
import type { Store } from '../store/store.js';
import { stepOf, type AppendResult, type NewMessage, type NewRun, type RunChange, type RunMove, type RunRecord, type RunStart, type RunState, type RunStep, type RunWithSteps, type StepResponse, type StoredMessage } from '../store/types.js';
import { renderedMessage, type TemplateMessageDeps } from '../templates/template-message.js';
import { withStoredRetry } from '../templates/template-catalog.js';
import { branchTarget } from './graph.js';

/**
 * Workflow runs: starting them, moving them on when a step's message is delivered or dies, and
 * cancelling them. A run's state lives in the store; each step is an ordinary message (so every
 * limit applies to it), whose origin names its run and step. When its delivery finishes, the next
 * step is worked out here and written in the same transaction as the delivery's outcome
 * (Store.completeDeliveries), so a crash leaves either both or neither: a finished step is never
 * sent again, and a step whose attempt was in flight is sent again like any message.
 */

/** What starting a run takes. */
export interface RunInput {
  vars?: Record<string, unknown>;
  deliverAt?: string | number;
  delayMs?: number;
  idempotencyKey?: string;
}

/** What the runner reads and writes. */
export interface WorkflowDeps extends Omit<TemplateMessageDeps, 'templates'> {
  readonly store: Pick<Store, 'getRun' | 'changeRun' | 'upsertWorkflow' | 'listWorkflows' | 'deleteWorkflow'>;
  readonly events: EventBus;
  readonly logger: Logger;
  /** Messages stored outside the group-commit writer: their queues, lanes and the due timer hear of them. */
  afterCommit(messages: NewMessage[], results: AppendResult[]): void;
  /** Runs start in the group commit, beside ingested messages. */
  readonly writer: Pick<GroupCommitWriter, 'startRun'>;
}

/** Where a run goes next: a step by index, or the end. */
type Next = number | undefined;

/** A run's planned move, before the store gives it a version. */
type Plan = RunMove;

export type WorkflowCatalog = TenantCatalog<WorkflowConfig>;

/** Whether a dead step's message may be replayed: its run, and why not when it may not (WorkflowRunner.replayCheck). */
export interface StepReplay {
  runId: string;
  refused?: string;
}

export class WorkflowRunner implements StepHook {
  readonly catalog: WorkflowCatalog;
  /** Whose run each change from stepEnded moves, for its events once it is stored. */
  private readonly owners = new WeakMap<RunChange, { tenant: string; workflow: string }>();

  constructor(private readonly app: WorkflowDeps) {
    const store = app.store;
    this.catalog = new TenantCatalog('workflow', workflowConfigSchema, {
      upsert: (row) => store.upsertWorkflow(row),
      list: () => store.listWorkflows(),
      delete: (tenant, name) => store.deleteWorkflow(tenant, name),
    }, storedWorkflowInput);
  }

  /**
   * Start a run of `tenant`'s workflow `name`: its first step's message (after any skipped ones) is
   * stored with the run. Throws SLUICE_ERR_WORKFLOW_NOT_FOUND, or a 400 for a bad deliverAt.
   */
  async start(tenant: string, name: string, input: RunInput, origin: string): Promise<RunStart> {
    return this.startPlanned(this.plan(tenant, name, input), origin);
  }

  /** Store a run that `plan` worked out, in the next group commit (a repeated idempotency key stores nothing and answers the first run). */
  async startPlanned(run: NewRun, origin: string): Promise<RunStart> {
    const started = await this.app.writer.startRun(run);
    this.noteStarted([run], [started], origin);
    return started;
  }

  /**
   * A run of `tenant`'s workflow `name` as `start` would store it (its first steps worked out, the
   * first step's message made), without storing it: for a caller that stores it in a transaction of
   * its own (a schedule's tick, with the schedule's move). Throws as `start` does.
   */
  plan(tenant: string, name: string, input: RunInput): NewRun {
    const entry = this.catalog.get(tenant, name);
    if (!entry) throw new SluiceError('SLUICE_ERR_WORKFLOW_NOT_FOUND', `no workflow ${name}`);
    const now = this.app.clock.now();
    const startAt = resolveDeliverAt(input, now);
    const vars = input.vars ?? {};
    const plan = this.walk({ tenant, definition: entry.config, vars }, [], entry.config.steps.length > 0 ? 0 : undefined, now, startAt);
    return { tenant, workflow: name, definition: entry.config, vars, ...plan, ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}) };
  }

  /**
   * Planned runs were stored (by startPlanned, or in a transaction of the caller's: a schedule's
   * tick, a request's group), `starts[i]` saying how run i went: each one stored as new has its
   * step's message woken for and its start told (the `run` event); one found by its idempotency key
   * is not told again. Returns the runs' ids, in order.
   */
  noteStarted(runs: readonly NewRun[], starts: readonly RunStart[], origin: string): string[] {
    starts.forEach((start, index) => {
      const run = runs[index]!;
      if (!start.created) return;
      if (run.message) this.stepsAppended([run.message]);
      this.app.events.emit('run', { id: start.id, tenant: run.tenant, workflow: run.workflow, state: run.state, origin });
      this.report(start.id, run.tenant, run.workflow, run);
    });
    return starts.map((start) => start.id);
  }

  /**
   * A step's message finished: the change that moves its run on, to be written with the delivery's
   * outcome; undefined when the message is no step of a running run (cancelled meanwhile, or this
   * is an old copy of a step already moved past).
   */
  async stepEnded(message: StoredMessage, end: StepEnd): Promise<RunChange | undefined> {
    const step = stepOf(message.origin);
    if (!step) return undefined;
    const found = await this.app.store.getRun(step.runId);
    if (!found || found.run.state !== 'running') return undefined;
    const row = found.steps.find((candidate) => candidate.seq === step.seq);
    if (!row || row.state !== 'pending' || row.messageId !== message.id) return undefined;
    const definition = found.run.definition as WorkflowConfig;
    const index = definition.steps.findIndex((candidate) => candidate.name === row.name);
    if (index < 0) return undefined;
    const now = this.app.clock.now();
    const finished: RunStep = { ...row, state: end.kind === 'delivered' ? 'succeeded' : 'failed', attempts: end.attempts, updatedAt: now };
    const response = responseOf(end.result);
    if (response) finished.response = response;
    if (end.kind === 'dead') finished.error = end.reason ?? 'failed';
    const history = [...found.steps.filter((candidate) => candidate.seq !== row.seq), finished];
    const config = definition.steps[index]!;
    const plan = this.follow(found.run, definition, history, finished, index, config, now);
    const change: RunChange = { runId: found.run.id, version: found.run.version, ...plan, steps: [finished, ...plan.steps] };
    this.owners.set(change, { tenant: found.run.tenant, workflow: found.run.workflow });
    return change;
  }

  /**
   * A change from stepEnded was stored with its delivery's outcome (Store.completeDeliveries said
   * its run moved): now its events are told, and its next step's lane and the due timer hear of it.
   * A change that did not apply is never told.
   */
  changeStored(change: RunChange): void {
    const owner = this.owners.get(change);
    if (change.message) this.stepsAppended([change.message]);
    if (owner) this.report(change.runId, owner.tenant, owner.workflow, change);
  }

  /** Step messages went into the store (with a run's start or move): wake what waits for them. */
  stepsAppended(messages: NewMessage[]): void {
    this.app.afterCommit(messages, messages.map((message) => ({ id: '', duplicate: false, deliverAt: message.deliverAt })));
  }

  /**
   * Cancel a run that is still running: its waiting step's message is cancelled with it, in the same
   * transaction (`withdrawn`: the dispatcher let go of that message before sending it, so it is
   * cancelled even though claimed). Returns the run's state after, or undefined when there is no such run.
   */
  async cancel(id: string, tenant?: string, options: { withdrawn?: boolean } = {}): Promise<RunState | undefined> {
    for (let tries = 0; tries < 5; tries += 1) {
      const found = await this.app.store.getRun(id);
      if (!found || (tenant !== undefined && found.run.tenant !== tenant)) return undefined;
      if (found.run.state !== 'running') return found.run.state;
      const now = this.app.clock.now();
      const pending = found.steps.filter((step) => step.state === 'pending');
      const change: RunChange = {
        runId: id,
        version: found.run.version,
        state: 'cancelled',
        steps: pending.map((step) => ({ ...step, state: 'cancelled', updatedAt: now })),
        cancelMessages: pending.flatMap((step) => (step.messageId === undefined ? [] : [step.messageId])),
        ...(options.withdrawn ? { withdrawn: true } : {}),
      };
      if (await this.app.store.changeRun(change, now)) {
        this.app.events.emit('run', { id, tenant: found.run.tenant, workflow: found.run.workflow, state: 'cancelled' });
        return 'cancelled';
      }
    }
    throw new SluiceError('SLUICE_ERR_CONFLICT', `run ${id} kept changing: try again`);
  }

  /**
   * What replaying this dead step's message would do to its run: undefined for a message of no run,
   * else the run's id, with `refused` saying why it may not be replayed. SPEC: a replay resumes the
   * run at that step only if the run failed there; a run that was cancelled, went on through an
   * onFailure branch, or waits on another step would be sent a step it has moved past. A run that
   * already waits on this very message (resumed, then the node stopped before the replay) may be.
   */
  async replayCheck(message: StoredMessage): Promise<StepReplay | undefined> {
    const step = stepOf(message.origin);
    if (!step) return undefined;
    const found = await this.app.store.getRun(step.runId);
    const plan = found ? resumeFrom(found, message.id, this.app.clock.now()) : { refused: `run ${step.runId} no longer exists` };
    return 'refused' in plan ? { runId: step.runId, refused: plan.refused } : { runId: step.runId };
  }

  /**
   * Before a dead step's message is replayed: its run, failed at that step, is running again with
   * the step pending (attempts 0, as the replayed message's). Call replayCheck first; this throws
   * SLUICE_ERR_CONFLICT naming the run when the run cannot go on from this message. Returns the run's
   * id, or undefined for a message of no run.
   */
  async resume(message: StoredMessage): Promise<string | undefined> {
    const step = stepOf(message.origin);
    if (!step) return undefined;
    for (let tries = 0; tries < 5; tries += 1) {
      const found = await this.app.store.getRun(step.runId);
      const now = this.app.clock.now();
      const plan = found ? resumeFrom(found, message.id, now) : { refused: `run ${step.runId} no longer exists` };
      if ('refused' in plan) throw new SluiceError('SLUICE_ERR_CONFLICT', plan.refused, { extra: { run: step.runId } });
      if (!plan.change) return step.runId;
      if (await this.app.store.changeRun(plan.change, now)) {
        const { tenant, workflow } = found!.run;
        this.report(step.runId, tenant, workflow, { state: 'running', steps: plan.change.steps });
        this.app.logger.info('workflow run resumed', { run: step.runId, workflow, tenant, message: message.id });
        return step.runId;
      }
    }
    throw new SluiceError('SLUICE_ERR_CONFLICT', `run of message ${message.id} kept changing: try again`);
  }

  /** After a finished step: where its branch leads, and the steps from there. */
  private follow(run: RunRecord, definition: WorkflowConfig, history: RunStep[], finished: RunStep, index: number, config: WorkflowStepConfig, now: number): Plan {
    if (finished.state === 'failed' && config.onFailure === undefined) return { state: 'failed', error: `step ${config.name} failed: ${finished.error ?? ''}`, steps: [] };
    const branch = finished.state === 'succeeded' ? config.onSuccess : config.onFailure;
    return this.walk({ tenant: run.tenant, definition, vars: run.vars }, history, branchTarget(definition.steps, branch, index), now, now);
  }

  /**
   * From step `at` on: skip each step whose `when` is false, and stop at the first one to send (its
   * message, due at `base` plus its delay), or at the end of the run. A step whose request cannot be
   * made fails there and then (its onFailure branch, else the run fails). A run takes at most
   * MAX_WORKFLOW_STEPS steps.
   */
  private walk(run: { tenant: string; definition: WorkflowConfig; vars: unknown }, history: RunStep[], at: Next, now: number, base: number): Plan {
    const taken: RunStep[] = [];
    // Each response body is parsed once; steps taken here (skipped or failed: no response) join the scope as they go.
    const scope = { vars: run.vars, steps: stepsScope(history) };
    const take = (step: RunStep): void => {
      taken.push(step);
      scope.steps[step.name] = scopeEntry(step);
    };
    let seq = history.length === 0 ? 0 : Math.max(...history.map((step) => step.seq)) + 1;
    for (;;) {
      if (at === undefined) return { state: 'succeeded', steps: taken };
      if (seq >= MAX_WORKFLOW_STEPS) return { state: 'failed', error: `the run took ${MAX_WORKFLOW_STEPS} steps without ending`, steps: taken };
      const config = run.definition.steps[at]!;
      if (config.when !== undefined && !evaluate(config.when, resolverOf(scope))) {
        take({ seq, name: config.name, state: 'skipped', attempts: 0, updatedAt: now });
        seq += 1;
        at = branchTarget(run.definition.steps, undefined, at);
        continue;
      }
      try {
        const message = this.stepMessage(run.tenant, run.definition, config, scope, base + (config.delayMs ?? 0));
        taken.push({ seq, name: config.name, state: 'pending', attempts: 0, updatedAt: now });
        return { state: 'running', steps: taken, message };
      } catch (error) {
        if (!(error instanceof SluiceError)) throw error;
        take({ seq, name: config.name, state: 'failed', attempts: 0, error: error.message, updatedAt: now });
        seq += 1;
        if (config.onFailure === undefined) return { state: 'failed', error: `step ${config.name}: ${error.message}`, steps: taken };
        at = branchTarget(run.definition.steps, config.onFailure, at);
      }
    }
  }

  /** A step's request as a message of the workflow's queue and priority, the step's retry policy. */
  private stepMessage(tenant: string, definition: WorkflowConfig, config: WorkflowStepConfig, scope: { vars: unknown; steps: unknown }, deliverAt: number): NewMessage {
    const template = { ...config.request, queue: definition.queue, retry: config.retry, priority: definition.priority };
    const message = renderedMessage(this.app, tenant, template, scope, { deliverAt: Math.max(deliverAt, this.app.clock.now()) }, { at: '', template: 'request.' });
    return { ...message, origin: 'workflow' };
  }

  private report(id: string, tenant: string, workflow: string, plan: Plan): void {
    for (const step of plan.steps) this.app.events.emit('run', { id, tenant, workflow, state: plan.state, step: step.name, stepState: step.state });
    if (plan.state !== 'running') this.app.logger.info(`workflow run ${plan.state}`, { run: id, workflow, tenant, ...(plan.error ? { error: plan.error } : {}) });
  }
}

/**
 * How a run goes on from a replay of its dead step message `messageId`: the change that resumes it
 * (the run failed at that step: its last step row holds the message), no change (it already waits
 * on that message), or why it cannot.
 */
function resumeFrom(found: RunWithSteps, messageId: string, now: number): { change?: RunChange } | { refused: string } {
  const { run } = found;
  const last = found.steps.reduce<RunStep | undefined>((latest, step) => (latest === undefined || step.seq > latest.seq ? step : latest), undefined);
  if (last === undefined || last.messageId !== messageId) return { refused: `run ${run.id} (${run.state}) did not fail at the step of message ${messageId}: it moved past it` };
  if (run.state === 'running' && last.state === 'pending') return {};
  if (run.state !== 'failed' || last.state !== 'failed') return { refused: `run ${run.id} is ${run.state}: only a run that failed at this step resumes` };
  const { error: _error, response: _response, ...step } = last;
  return { change: { runId: run.id, version: run.version, state: 'running', steps: [{ ...step, state: 'pending', attempts: 0, updatedAt: now }] } };
}

/** A stored workflow with each step's retry policy back in the shape the schema reads. */
function storedWorkflowInput(config: unknown): unknown {
  if (typeof config !== 'object' || config === null || !Array.isArray((config as { steps?: unknown }).steps)) return config;
  return { ...config, steps: (config as { steps: unknown[] }).steps.map(withStoredRetry) };
}

/** What a finished attempt answered, as the run keeps it (the client kept STEP_RESPONSE_BYTES of the body). */
function responseOf(result: DeliveryResult): StepResponse | undefined {
  if (result.status === undefined) return undefined;
  return { status: result.status, headers: { ...(result.headers ?? {}) }, body: result.body ?? '' };
}

/** `steps.<name>` for templates and conditions: each step's last take, its response body as JSON when it parses. */
function stepsScope(history: readonly RunStep[]): Record<string, unknown> {
  const scope: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const step of [...history].sort((a, b) => a.seq - b.seq)) scope[step.name] = scopeEntry(step);
  return scope;
}

/** One step as `steps.<name>` reads it. */
function scopeEntry(step: RunStep): Record<string, unknown> {
  const entry: Record<string, unknown> = { state: step.state, attempts: step.attempts };
  if (step.response) entry.response = { status: step.response.status, headers: step.response.headers, body: parseBody(step.response.body) };
  return entry;
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** Conditions read `vars.…` and `steps.…`. */
function resolverOf(scope: { vars: unknown; steps: unknown }): Resolve {
  return (segments) => {
    const root = segments[0] === 'vars' ? scope.vars : segments[0] === 'steps' ? scope.steps : undefined;
    return readJsonPath(root as JsonValue | undefined, segments, 1);
  };
}
