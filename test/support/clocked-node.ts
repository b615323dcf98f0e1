import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { Sink } from './sink.js';
import { startSluice, type TestSluice } from './sluice.js';

/**
 * One Sluice under a clock that stands still except where the test moves it, with a sink that
 * answers 200, restartable on the same data: the schedule tests fire each tick by asking the runner
 * for what is due at a known instant. `cleanups` gets what to undo after the test.
 */
export class ClockedNode {
  private constructor(
    readonly sink: Sink,
    readonly clock: ManualClock,
    private sluice: TestSluice,
    private readonly config: Record<string, unknown>,
    private readonly dir: string,
  ) {}

  static async start(config: Record<string, unknown>, t0: number, cleanups: (() => Promise<void> | void)[]): Promise<ClockedNode> {
    const sink = await new Sink(() => ({ status: 200, body: 'ok' })).start();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-clocked-'));
    const clock = new ManualClock(t0);
    const full = { network: { allowPrivate: true }, limits: { perNode: true }, ...config };
    const node = new ClockedNode(sink, clock, await startSluice(full, { clock, dir }), full, dir);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => sink.stop(), () => node.sluice.stop());
    return node;
  }

  get api(): TestSluice['api'] {
    return this.sluice.api;
  }

  /** Stop, let `downMs` pass, start again on the same data. */
  async restart(downMs = 0): Promise<void> {
    await this.sluice.stop();
    this.clock.advance(downMs);
    this.sluice = await startSluice(this.config, { clock: this.clock, dir: this.dir });
  }

  /** Move the clock on by `ms` (a minute by default) and fire what is due then. */
  async tick(ms = 60_000): Promise<void> {
    this.clock.advance(ms);
    await this.sluice.app.schedules.fireDue(this.clock.now());
  }
}
