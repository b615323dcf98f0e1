import type { Clock } from '../clock.js';
import type { RunState } from '../store/types.js';
import type { SluiceEvents } from './events.js';
import type { RunOutcome, SluiceMetrics } from './metrics.js';
import type { StatsStreamHub } from './stream.js';

/**
 * Workflow runs as monitoring sees them: the `run` events of the EventBus read as "a run started",
 * "a step moved" and "a run ended", counted in the metrics and sent on the live stream.
 *
 * The runner reports a run's start with one event carrying `origin`, each step a change wrote with
 * one event carrying `step`, and a cancel with one bare event; every event carries the run's state
 * after the change. So a run's end is not an event of its own: it is the first event that carries
 * an ended state. The events of one change are emitted together, synchronously, and an ended run
 * changes no more; so remembering the last run seen ending is enough to count each end once
 * (an event that shows the run running again forgets it, should an ended run be resumed).
 */

/** Frame types of workflow runs on GET /v1/stats/stream. */
export type RunStreamEventType = 'run-started' | 'run-step' | 'run-ended';

/**
 * The data of a workflow-run frame on GET /v1/stats/stream. These frames are sent as they happen
 * to the admin and to the run's tenant; unlike the logged events they carry no `seq` (and the frame
 * no `id:`), and they are not kept among GET /v1/stats's recentEvents, so a busy workflow does not
 * push backpressure and dead letters out of that list.
 *
 * @example
 * event: run-step
 * data: {"at":"2026-01-05T10:00:01.250Z","type":"run-step","run":"42","tenant":"default","workflow":"onboard","state":"running","step":"create","stepState":"succeeded"}
 */
export interface RunStreamEvent {
  at: string;
  type: RunStreamEventType;
  /** The run's id. */
  run: string;
  tenant: string;
  workflow: string;
  /** The run's state after what happened: `running`, or how it ended. */
  state: RunState;
  /** run-started only: what started it (`api`, a schedule, a source). */
  origin?: string;
  /** run-step only: the step's name. */
  step?: string;
  /** run-step only: pending (its request is queued), succeeded, failed or skipped. */
  stepState?: string;
}

/** Where run activity goes: the counters and the live streams. */
export interface RunActivityDeps {
  readonly clock: Clock;
  readonly metrics: Pick<SluiceMetrics, 'recordRun' | 'recordStep'>;
  readonly streams: Pick<StatsStreamHub, 'size' | 'publishToTenant'>;
}

type RunEvent = SluiceEvents['run'];

/** Reads each `run` event once: counts it and sends it to the streams that may see it. */
export class RunActivity {
  /** The run whose end was counted last (see the file's opening comment). */
  private lastEnded: string | undefined;

  constructor(private readonly app: RunActivityDeps) {}

  /** One `run` event from the EventBus. */
  record(event: RunEvent): void {
    if (event.origin !== undefined) this.started(event);
    if (event.step !== undefined) this.stepped(event, event.step);
    if (event.state === 'running') {
      if (this.lastEnded === event.id) this.lastEnded = undefined;
    } else if (this.lastEnded !== event.id) {
      this.lastEnded = event.id;
      this.ended(event, event.state);
    }
  }

  private started(event: RunEvent): void {
    this.app.metrics.recordRun(event.tenant, event.workflow, 'started');
    this.publish('run-started', event);
  }

  private stepped(event: RunEvent, step: string): void {
    const stepState = event.stepState ?? 'pending';
    this.app.metrics.recordStep(event.tenant, event.workflow, stepState);
    this.publish('run-step', event, { step, stepState });
  }

  /**
   * Counted at once; sent after the events of the same change (the steps that led to the end come
   * first on the stream), which the runner emits in the same synchronous pass.
   */
  private ended(event: RunEvent, outcome: Exclude<RunOutcome, 'started'>): void {
    this.app.metrics.recordRun(event.tenant, event.workflow, outcome);
    if (this.app.streams.size > 0) queueMicrotask(() => this.publish('run-ended', event));
  }

  private publish(type: RunStreamEventType, event: RunEvent, step?: { step: string; stepState: string }): void {
    if (this.app.streams.size === 0) return;
    const data: RunStreamEvent = { at: new Date(this.app.clock.now()).toISOString(), type, run: event.id, tenant: event.tenant, workflow: event.workflow, state: event.state };
    if (type === 'run-started' && event.origin !== undefined) data.origin = event.origin;
    if (step) Object.assign(data, step);
    this.app.streams.publishToTenant(type, event.tenant, data);
  }
}
