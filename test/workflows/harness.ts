import { afterEach } from 'vitest';
import { Sink, type SinkHandler } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * What the workflow tests share: real nodes (SQLite, private targets allowed, since sinks are on
 * 127.0.0.1) and real sinks, each stopped after its test, and waiting for a run to end.
 */
export function workflowHarness(): {
  start(config?: Record<string, unknown>, dir?: string): Promise<TestSluice>;
  sink(handler?: SinkHandler): Promise<Sink>;
  /** Stop a node before the test ends (a restart on the same data dir). */
  stop(sluice: TestSluice): Promise<void>;
} {
  const running: TestSluice[] = [];
  const sinks: Sink[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((sluice) => sluice.stop()));
    await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
  });
  return {
    async start(config = { network: { allowPrivate: true } }, dir) {
      const sluice = await startSluice(config, dir ? { dir } : {});
      running.push(sluice);
      return sluice;
    },
    async sink(handler) {
      const started = await new Sink(handler).start();
      sinks.push(started);
      return started;
    },
    async stop(sluice) {
      running.splice(running.indexOf(sluice), 1);
      await sluice.stop();
    },
  };
}

/** The run once it is no longer running (read with `key`, else the admin key). */
export function finished(sluice: TestSluice, id: string, key?: string): Promise<any> {
  return eventually(async () => {
    const run = (await sluice.api('GET', `/v1/workflows/runs/${id}`, undefined, key)).body;
    return run.state !== 'running' && run;
  }, `run ${id} to end`, 60_000);
}
