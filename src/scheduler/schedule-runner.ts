import { scheduleConfigSchema, type ScheduleConfig, type ScheduledWorkflow } from '../config/schema.js';
import { ConfigError } from '../config/loader.js';
import { settingsOf, type FileSettings } from '../config/file-settings.js';
import { readStoredRow, StoredRowError } from '../config/stored-row.js';
import { SluiceError } from '../http/errors.js';
import { toNewMessage } from '../queues/outbound-message.js';
import type { TemplateCatalog } from '../templates/template-catalog.js';
import { templateMessage } from '../templates/template-message.js';
import type { Clock } from '../clock.js';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { TargetCheck } from '../delivery/targets.js';
import type { Logger } from '../observe/logger.js';
import type { QueueRegistry } from '../queues/registry.js';
import type { Store } from '../store/store.js';
import type { DueTimer } from './due-timer.js';
import type { NewMessage, ScheduleMark, ScheduleRecord } from '../store/types.js';
import type { WorkflowRunner } from '../workflows/runner.js';
import type { RunTimes } from './cron.js';
import { LOOKAHEAD_MS, scheduleRunTimes } from './schedule-times.js';

/** What the schedule runner is handed by the composition root. */
export interface SchedulerDeps extends TargetCheck {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: Store;
  readonly queues: QueueRegistry;
  readonly dueTimer: DueTimer;
  readonly dispatcher: Dispatcher | undefined;
  /** For messages made from a template (`message: { template, vars }`); absent: such a schedule cannot fire. */
  readonly templates?: Pick<TemplateCatalog, 'get'>;
  /** For schedules that start workflow runs (`workflow: { name, vars }`); absent: such a schedule cannot be saved. */
  readonly workflows?: Pick<WorkflowRunner, 'catalog' | 'plan' | 'noteStarted'>;
}

/**
 * A schedule's template may name secrets that are not in the vault yet (a sluice.yaml schedule is
 * saved at the first start, before anyone could PUT them): its messages are made anyway, and one
 * whose secret is still missing when it is sent goes to dead with an error naming the secret.
 */
const SECRETS_CHECKED_AT_SEND = { has: () => true };

/**
 * Each top-level field of a schedule is one setting of sluice.yaml; cron, every and solar replace each
 * other, so they are one. That one keeps the name it had before solar ("cron/every"): databases know
 * what the file last applied by it, and a file without solar gives the same value as then. So do
 * message and workflow, as the setting "message" (a file without workflow gives the value it gave).
 */
const SCHEDULE_SETTINGS = settingsOf(Object.keys(scheduleConfigSchema.shape), [['cron', 'every', 'solar'], ['message', 'workflow']]).map((setting) =>
  setting.fields.includes('solar') ? { ...setting, name: 'cron/every' } : setting.fields.includes('workflow') ? { ...setting, name: 'message' } : setting,
);

type MessageTemplate = NonNullable<ScheduleConfig['message']>;

/** `missed: all` catches up at most this many ticks per schedule. */
const MAX_CATCH_UP = 1_000;

/** A schedule as the runner holds it. */
export interface LiveSchedule {
  record: ScheduleRecord;
  config: ScheduleConfig;
  times: RunTimes;
}

/** `completed`: no run left (maxRuns reached, or none before endAt); a PATCH that extends it makes it active again. */
export type ScheduleState = 'active' | 'paused' | 'completed';

/**
 * Cron, interval and solar schedules. Each tick creates one message from the template, or starts one
 * run of a workflow, and moves the schedule to its next run in the same transaction
 * (Store.fireSchedule), which also counts the runs, so a crash neither fires a tick twice, nor loses
 * one, nor miscounts it. The due timer wakes us at
 * the earliest next run. A schedule with no next run (maxRuns reached, or none before endAt) is
 * completed: its stored next run is empty.
 */
export class ScheduleRunner {
  private readonly schedules = new Map<string, LiveSchedule>();
  private stopped = false;
  /** Ticks due before this node started were missed while Sluice was down: `missed` decides them. */
  private startedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly app: SchedulerDeps) {}

  /**
   * Load stored schedules (one that cannot be read stops the start), then apply the settings of the
   * configured ones that the file changed since it last applied them (see FileSettings). A schedule
   * left unchanged keeps its place in time.
   */
  async load(configured: Record<string, ScheduleConfig>, file: FileSettings): Promise<void> {
    for (const record of await this.app.store.listSchedules()) this.schedules.set(record.name, liveOf(record));
    for (const [name, fromFile] of Object.entries(configured)) {
      const existing = this.schedules.get(name);
      const { value, changed } = file.merge('schedule', name, fromFile, existing?.config, SCHEDULE_SETTINGS);
      if (changed.length > 0) this.app.logger.info('sluice.yaml changed a schedule', { schedule: name, settings: changed });
      if (existing && JSON.stringify(existing.config) === JSON.stringify(value)) continue;
      try {
        await this.save(name, value, existing?.record.createdAt);
      } catch (error) {
        // What the API would refuse with a 400 naming the field stops the start naming it in the file.
        if (error instanceof SluiceError && error.code === 'SLUICE_ERR_VALIDATION') throw new ConfigError(`schedules.${name}.${error.message}`);
        throw error;
      }
    }
  }

  start(): void {
    this.stopped = false;
    this.startedAt = this.app.clock.now();
    const next = this.nextRunAt();
    if (next !== undefined) this.app.dueTimer.hint(next);
  }

  stop(): void {
    this.stopped = true;
  }

  /** The earliest next run of any active schedule. */
  nextRunAt(): number | undefined {
    let earliest: number | undefined;
    for (const { record } of this.schedules.values()) {
      if (record.paused || record.nextRunAt === undefined) continue;
      if (earliest === undefined || record.nextRunAt < earliest) earliest = record.nextRunAt;
    }
    return earliest;
  }

  /** Fire every schedule whose next run has come. */
  async fireDue(now: number): Promise<void> {
    if (this.stopped) return;
    for (const live of [...this.schedules.values()]) {
      const due = live.record.nextRunAt;
      if (live.record.paused || due === undefined || due > now) continue;
      try {
        await this.fire(live, due, now);
      } catch (error) {
        this.app.logger.error('schedule tick failed', { schedule: live.record.name, error: String(error) });
        live.record.nextRunAt = nextRunOf(live, now);
      }
    }
  }

  private async fire(live: LiveSchedule, due: number, now: number): Promise<void> {
    const runs = live.record.runs ?? 0;
    // Catch-up never passes maxRuns: the earliest ticks go, up to the runs left.
    const ticks = this.ticksToFire(live, due, now).slice(0, runsLeft(live.config, runs));
    const next = nextRunOf(live, now, runs + ticks.length);
    // The store counts the ticks in the transaction that stores them, if the row still has the next
    // run and the count read here: a node with an old count fires nothing and reads it again.
    const mark = { runAt: due, runs };
    const fired = live.config.workflow !== undefined ? await this.startRuns(live, ticks, mark, next, now) : await this.sendMessages(live, ticks, mark, next, now);
    if (!fired) return this.reloadOne(live.record.name);
    live.record.nextRunAt = next;
    live.record.runs = runs + ticks.length;
    if (ticks.length > 0) live.record.lastRunAt = now;
  }

  /** A message schedule's ticks: one message each, appended with the schedule's move. */
  private async sendMessages(live: LiveSchedule, ticks: number[], mark: ScheduleMark, next: number | undefined, now: number): Promise<boolean> {
    const template = live.config.message!;
    // The queue may have changed hands since the schedule was saved: never send into another tenant's.
    // (A template's message is made as its tenant's, which refuses another tenant's queue itself.)
    const queue = this.app.queues.get(template.queue);
    if (template.template === undefined && queue?.tenant !== live.record.tenant) {
      throw new SluiceError('SLUICE_ERR_VALIDATION', `message.queue: schedule ${live.record.name} may not send to queue ${template.queue}`);
    }
    const messages = ticks.map((tick) => this.messageFor(live, template, tick));
    if (!(await this.app.store.fireSchedule(live.record.name, mark, next, messages, now))) return false;
    for (const message of messages) this.app.queues.noteAppended(message);
    this.app.dispatcher?.wakeLanes(messages.map((message) => ({ queue: message.queue, domain: message.domain })));
    return true;
  }

  /**
   * A workflow schedule's ticks: one run each, of the schedule tenant's workflow, started at its tick
   * (a step's delay counts from there), in the transaction that moves the schedule.
   */
  private async startRuns(live: LiveSchedule, ticks: number[], mark: ScheduleMark, next: number | undefined, now: number): Promise<boolean> {
    const workflow = live.config.workflow!;
    const workflows = this.workflowRunner();
    const runs = ticks.map((tick) => workflows.plan(live.record.tenant, workflow.name, { vars: workflow.vars ?? {}, deliverAt: tick }));
    const started = await this.app.store.fireSchedule(live.record.name, mark, next, [], now, runs);
    if (started === false) return false;
    workflows.noteStarted(runs, started, `schedule:${live.record.name}`);
    return true;
  }

  private workflowRunner(): NonNullable<SchedulerDeps['workflows']> {
    if (!this.app.workflows) throw new SluiceError('SLUICE_ERR_VALIDATION', 'workflow: this node keeps no workflows');
    return this.app.workflows;
  }

  /** The ticks from `due` up to now, after the `missed` policy: skip, once (the latest), or all. */
  private ticksToFire(live: LiveSchedule, due: number, now: number): number[] {
    const ticks: number[] = [];
    for (let tick: number | undefined = due; tick !== undefined && tick <= now && ticks.length < MAX_CATCH_UP; tick = live.times.next(tick)) {
      ticks.push(tick);
    }
    const missed = ticks.filter((tick) => tick < this.startedAt);
    const onTime = ticks.filter((tick) => tick >= this.startedAt);
    if (missed.length === 0) return onTime;
    switch (live.config.missed) {
      case 'skip':
        return onTime;
      case 'once':
        return onTime.length > 0 ? onTime : [missed.at(-1)!];
      case 'all':
        return ticks;
    }
  }

  private messageFor(live: LiveSchedule, template: MessageTemplate, tick: number): NewMessage {
    if (template.template !== undefined) return this.fromTemplate(live.record.tenant, template, tick, `schedule:${live.record.name}`);
    if (!template.url && !this.app.queues.get(template.queue)?.config.url) {
      throw new SluiceError('SLUICE_ERR_VALIDATION', 'message.url: the schedule has no url and its queue has none');
    }
    const principal = { kind: 'tenant' as const, tenant: live.record.tenant };
    const url = template.url ?? this.app.queues.get(template.queue)!.config.url!;
    const message = toNewMessage(this.app, principal, { ...template, url, deliverAt: tick }, 'message.');
    message.origin = `schedule:${live.record.name}`;
    message.deliverAt = tick;
    return message;
  }

  /**
   * A tick's message made from a template of the schedule's tenant, its variables filled now (a
   * missing one fails the tick, naming it); the schedule's queue is used when the template names none.
   */
  private fromTemplate(tenant: string, message: MessageTemplate, tick: number, origin: string): NewMessage {
    const { templates, queues, clock } = this.app;
    if (!templates) throw new SluiceError('SLUICE_ERR_VALIDATION', 'message.template: this node keeps no templates');
    const deps = { templates, vault: SECRETS_CHECKED_AT_SEND, queues, clock, domainOf: (url: string) => this.app.domainOf(url), refuseForbiddenTarget: (url: string, domain: string, field: string) => this.app.refuseForbiddenTarget(url, domain, field) };
    const input = { template: message.template!, vars: message.vars, priority: message.priority, deliverAt: tick };
    const made = templateMessage(deps, tenant, input, 'message.', { queue: message.queue });
    made.origin = origin;
    made.deliverAt = tick;
    return made;
  }

  // ── management (API) ────────────────────────────────────────

  list(tenant?: string): LiveSchedule[] {
    return [...this.schedules.values()].filter((live) => tenant === undefined || live.record.tenant === tenant);
  }

  get(name: string): LiveSchedule | undefined {
    return this.schedules.get(name);
  }

  /**
   * Validate and store a schedule; its next run is computed from now. It keeps the runs counted so
   * far, so a change that extends its end (endAt, maxRuns) makes a completed schedule active again.
   */
  async save(name: string, config: ScheduleConfig, createdAt?: number): Promise<LiveSchedule> {
    const now = this.app.clock.now();
    const created = createdAt ?? now;
    const times = runTimesOf(config, created);
    this.checkTemplate(config);
    const previous = this.schedules.get(name)?.record;
    const record: ScheduleRecord = { name, tenant: config.tenant, spec: config, paused: config.paused, createdAt: created, runs: previous?.runs ?? 0 };
    const live = { record, config, times };
    const next = nextRunOf(live, now);
    if (next !== undefined) record.nextRunAt = next;
    if (previous?.lastRunAt !== undefined) record.lastRunAt = previous.lastRunAt;
    await this.app.store.upsertSchedule(record);
    this.schedules.set(name, live);
    if (!config.paused && next !== undefined) this.app.dueTimer.hint(next);
    return live;
  }

  async remove(name: string): Promise<boolean> {
    this.schedules.delete(name);
    return this.app.store.deleteSchedule(name);
  }

  private checkTemplate(config: ScheduleConfig): void {
    if (config.workflow !== undefined) return this.checkWorkflow(config.tenant, config.workflow);
    const message = config.message!;
    if (message.template !== undefined) return this.checkMessageTemplate(config.tenant, message);
    const queue = this.app.queues.get(message.queue);
    if (!queue) throw new SluiceError('SLUICE_ERR_VALIDATION', `message.queue: no queue named ${message.queue}`);
    if (queue.config.mode !== 'push') throw new SluiceError('SLUICE_ERR_VALIDATION', `message.queue: ${queue.name} is a pull queue`);
    if (!message.url && !queue.config.url) throw new SluiceError('SLUICE_ERR_VALIDATION', 'message.url: required (the queue has no url)');
    const url = message.url ?? queue.config.url!;
    this.app.refuseForbiddenTarget(url, this.app.domainOf(url), 'message.url');
  }

  /**
   * A schedule whose message names a template: a message is made from it now, for the schedule's
   * tenant, so that an unknown template, a missing variable or a queue it cannot send to is a 400
   * when the schedule is saved rather than a failed tick later.
   */
  private checkMessageTemplate(tenant: string, message: MessageTemplate): void {
    this.fromTemplate(tenant, message, this.app.clock.now(), 'schedule');
  }

  /**
   * A schedule that starts runs: the workflow must be its tenant's (another tenant's reads as none).
   * Its variables are not checked here: a step may read them only on some branches, and one that
   * cannot be made fails its run at the tick, as a run started through the API does.
   */
  private checkWorkflow(tenant: string, workflow: ScheduledWorkflow): void {
    if (this.workflowRunner().catalog.get(tenant, workflow.name) === undefined) {
      throw new SluiceError('SLUICE_ERR_VALIDATION', `workflow.name: no workflow named ${workflow.name}`, {
        extra: { errors: [{ field: 'workflow.name', message: `no workflow named ${workflow.name}` }] },
      });
    }
  }

  /**
   * Adopt the schedules as stored now, after another node created, changed, fired (moving nextRunAt)
   * or deleted some. Nothing fires here and nothing is written; the due timer hears of the earliest
   * next run, so a schedule created elsewhere also runs from this node (Store.fireSchedule lets
   * only one node fire each tick).
   *
   * A stored row this version cannot read does not stop the others: that schedule stays as it was
   * here, and its error is returned for the caller to report.
   */
  async reload(): Promise<StoredRowError[]> {
    const records = await this.app.store.listSchedules();
    const unreadable: StoredRowError[] = [];
    for (const record of records) {
      try {
        this.adopt(record);
      } catch (error) {
        if (!(error instanceof StoredRowError)) throw error;
        unreadable.push(error);
      }
    }
    const stored = new Set(records.map((record) => record.name));
    for (const name of [...this.schedules.keys()]) if (!stored.has(name)) this.schedules.delete(name);
    const next = this.nextRunAt();
    if (!this.stopped && next !== undefined) this.app.dueTimer.hint(next);
    return unreadable;
  }

  /** A stored row as the runner holds it: its config and run times are read again only when its spec changed. */
  private adopt(record: ScheduleRecord): void {
    const live = this.schedules.get(record.name);
    const sameSpec = live !== undefined && live.record.createdAt === record.createdAt && JSON.stringify(live.record.spec) === JSON.stringify(record.spec);
    if (sameSpec) live.record = record;
    else this.schedules.set(record.name, liveOf(record));
  }

  /** Another node fired or changed this schedule first: take its row as stored now (gone: forget it). */
  private async reloadOne(name: string): Promise<void> {
    const record = (await this.app.store.listSchedules()).find((candidate) => candidate.name === name);
    if (!record) this.schedules.delete(name);
    else if (this.schedules.has(name)) this.adopt(record);
  }
}

/** A stored schedule as the runner holds it; a StoredRowError names a row this version cannot read. */
function liveOf(record: ScheduleRecord): LiveSchedule {
  const what = `stored schedule "${record.name}"`;
  const config = readStoredRow(scheduleConfigSchema, record.spec, what);
  try {
    return { record, config, times: runTimesOf(config, record.createdAt) };
  } catch (error) {
    throw new StoredRowError(`${what} cannot be read: ${(error as Error).message}`);
  }
}

/** The run times of a schedule (its timing, exclusions, start and end); errors are 400s naming the field. */
export function runTimesOf(config: ScheduleConfig, anchor: number): RunTimes {
  try {
    return scheduleRunTimes(config, anchor);
  } catch (error) {
    const field = config.cron !== undefined ? ((error as { field?: string }).field ?? 'cron') : config.every !== undefined ? 'every' : 'solar';
    throw new SluiceError('SLUICE_ERR_VALIDATION', `${field}: ${(error as Error).message}`, {
      extra: { errors: [{ field, message: (error as Error).message }] },
    });
  }
}

/** How many more runs `maxRuns` allows (Infinity without one). */
function runsLeft(config: ScheduleConfig, runs: number): number {
  return config.maxRuns === undefined ? Number.POSITIVE_INFINITY : Math.max(0, config.maxRuns - runs);
}

/** The run after `after`, or undefined when the schedule is completed (maxRuns reached, or no run before endAt). */
function nextRunOf(live: LiveSchedule, after: number, runs = live.record.runs ?? 0): number | undefined {
  return runsLeft(live.config, runs) > 0 ? live.times.next(after) : undefined;
}

/** Whether a schedule still runs; completed wins over paused. */
export function scheduleState(live: LiveSchedule): ScheduleState {
  if (live.record.nextRunAt === undefined) return 'completed';
  return live.record.paused ? 'paused' : 'active';
}

/**
 * Its next `count` runs after `now` (fewer when the runs left or the end allow fewer), none when it
 * is completed, and none beyond LOOKAHEAD_MS (five years) from now.
 */
export function upcomingRuns(live: LiveSchedule, now: number, count: number): number[] {
  if (live.record.nextRunAt === undefined) return [];
  const wanted = Math.min(count, runsLeft(live.config, live.record.runs ?? 0));
  const runs: number[] = [];
  for (let at = live.times.next(now); at !== undefined && at <= now + LOOKAHEAD_MS && runs.length < wanted; at = live.times.next(at)) runs.push(at);
  return runs;
}
