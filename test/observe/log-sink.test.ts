import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { EventBus } from '../../src/observe/events.js';
import { LOG_REPEAT_MS, LogSink } from '../../src/observe/log-sink.js';
import { createLogger } from '../../src/observe/logger.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/** A logger writing to memory: each line parsed as it is written. */
function capture() {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger('info', stream), named: (message: string) => lines.filter((line) => line.message === message) };
}

let sluice: TestSluice | undefined;
const sinks: Sink[] = [];
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
  await Promise.all(sinks.splice(0).map((sink) => sink.stop()));
});

describe('decision logs of a running node', () => {
  it('log a dead message with its last status, a circuit opening, a Retry-After pause and a refused signature', async () => {
    const log = capture();
    const broken = await new Sink(() => ({ status: 500 })).start();
    const busy = await new Sink(() => ({ status: 429, headers: { 'retry-after': '60' } })).start();
    sinks.push(broken, busy);
    const SECRET = 'tok_very_secret_value';
    sluice = await startSluice(
      {
        network: { allowPrivate: true },
        queues: { hooks: { mode: 'pull' } },
        sources: { github: { queue: 'hooks', verify: { type: 'token', header: 'x-token', secret: SECRET } } },
      },
      { logger: log.logger },
    );

    const refused = await fetch(`${sluice.url}/in/github`, { method: 'POST', headers: { 'x-token': 'wrong-guess' }, body: '{}' });
    expect(refused.status).toBe(401);
    expect(log.named('signature refused')).toEqual([expect.objectContaining({ level: 'warn', source: 'github', reason: 'token does not match' })]);

    const sent = await sluice.client.sendBatch(Array.from({ length: 20 }, (_, i) => ({ url: `${broken.origin}/n/${i}`, retry: { maxAttempts: 1 } })));
    await eventually(() => log.named('message dead').length === 20, '20 dead lines');
    const dead = log.named('message dead').find((line) => line.id === sent.messages[0]!.id);
    expect(dead).toMatchObject({ level: 'warn', queue: 'outbound', status: 500, reason: expect.stringContaining('HTTP 500') });
    await eventually(() => log.named('circuit opened').length === 1, 'the circuit opening line');
    expect(log.named('circuit opened')[0]).toMatchObject({ domain: broken.domain, failures: 20, until: expect.any(String) });

    await sluice.client.send({ url: `${busy.origin}/later` });
    const paused = await eventually(() => log.named('domain paused by Retry-After')[0], 'the pause line');
    expect(paused).toMatchObject({ domain: busy.domain, status: 429 });
    expect(Date.parse(paused.until) - Date.now()).toBeGreaterThan(30_000);

    const everything = JSON.stringify(log.lines);
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('wrong-guess');
    expect(everything).not.toContain(sluice.key);
  }, 30_000);
});

describe('LogSink', () => {
  it('turns a flood of 10,000 backpressure events into one line per domain and reason, then one release line each', () => {
    const log = capture();
    let now = 1_000_000;
    const clock: Clock = { now: () => now } as Clock;
    const events = new EventBus();
    const sink = new LogSink(events, log.logger, clock);
    sink.start();
    const reasons = ['concurrency', 'rate'] as const;
    for (let i = 0; i < 10_000; i += 1) {
      now += 1;
      events.emit('backpressure', { domain: `d${i % 3}.example`, reason: reasons[i % 2]!, waiting: i });
    }
    expect(log.named('backpressure engaged')).toHaveLength(6);
    sink.sweep(now);
    expect(log.named('backpressure released')).toHaveLength(0); // still reported moments ago
    now += LOG_REPEAT_MS;
    sink.sweep(now);
    const released = log.named('backpressure released');
    expect(released).toHaveLength(6);
    expect(released.reduce((sum, line) => sum + line.events, 0)).toBe(10_000);
    expect(log.lines).toHaveLength(12);
    sink.stop();
  });

  it('writes a repeated Retry-After pause or refused signature at most once per period, with the count held back', () => {
    const log = capture();
    let now = 5_000_000;
    const clock: Clock = { now: () => now } as Clock;
    const events = new EventBus();
    const sink = new LogSink(events, log.logger, clock);
    sink.start();
    for (let i = 0; i < 1_000; i += 1) {
      now += 1;
      events.emit('throttled', { domain: 'api.example', status: 429, until: now + 60_000, effectiveConcurrency: 1 });
      events.emit('signature-refused', { source: 'github', reason: 'signature does not match' });
    }
    expect(log.named('domain paused by Retry-After')).toHaveLength(1);
    expect(log.named('signature refused')).toHaveLength(1);
    now += LOG_REPEAT_MS;
    events.emit('signature-refused', { source: 'github', reason: 'signature does not match' });
    expect(log.named('signature refused')[1]).toMatchObject({ suppressed: 999 });
    sink.stop();
  });
});
