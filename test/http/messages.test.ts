import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
  sluice = undefined;
  sink = undefined;
});

async function setup(clock?: ManualClock) {
  sink = await new Sink(() => ({ status: 200 })).start();
  sluice = await startSluice({ network: { allowPrivate: true } }, { clock });
  return { sink, sluice };
}

/**
 * Sluice on a clock that moves only when the test moves it: what becomes due, and when, is decided
 * by the test, not by how fast a loaded machine answers its requests.
 */
async function setupOnStandingClock() {
  const clock = new ManualClock(Date.parse('2026-03-02T10:00:00.000Z'));
  return { clock, ...(await setup(clock)) };
}

const stateOf = async (id: string) => (await sluice!.api('GET', `/v1/messages/${id}`)).body.state as string;

describe('POST /v1/messages', () => {
  it('delivers now, with the JSON body and its content-type', async () => {
    const { sink, sluice } = await setup();
    const created = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/now`, body: { a: 1 }, headers: { 'X-Custom': 'yes' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), state: 'ready' });
    await eventually(() => sink.arrivals.length === 1, 'delivery');
    const arrival = sink.arrivals[0]!;
    expect(arrival.body.toString()).toBe('{"a":1}');
    expect(arrival.headers['content-type']).toBe('application/json');
    expect(arrival.headers['x-custom']).toBe('yes');
    expect(arrival.headers['sluice-message-id']).toBe(created.body.id);
  });

  it('never delivers before deliverAt or delayMs', async () => {
    const { clock, sink, sluice } = await setupOnStandingClock();
    const at = clock.now() + 600;
    const byTime = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/at`, deliverAt: new Date(at).toISOString() });
    expect(byTime.body.state).toBe('scheduled');
    const byEpoch = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/epoch`, deliverAt: at });
    const byDelay = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/delay`, delayMs: 600 });
    expect(byEpoch.body.state).toBe('scheduled');
    expect(byDelay.body.state).toBe('scheduled');
    // A millisecond before: all three claimed and held (so nothing stands between them and the sink
    // but their time), and none sent.
    clock.advance(599);
    for (const created of [byTime, byEpoch, byDelay]) await eventually(async () => (await stateOf(created.body.id)) === 'inflight', 'claimed ahead');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sink.arrivals).toEqual([]);
    clock.advance(1);
    await eventually(() => sink.arrivals.length === 3, 'all three');
  });

  it('cancels a scheduled message; a delivered one cannot be cancelled', async () => {
    const { clock, sink, sluice } = await setupOnStandingClock();
    const later = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/later`, delayMs: 500 });
    const cancelled = await sluice.api('DELETE', `/v1/messages/${later.body.id}`);
    expect(cancelled.body).toEqual({ id: later.body.id, state: 'cancelled' });
    const now = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/now` });
    await eventually(async () => (await stateOf(now.body.id)) === 'delivered', 'delivered');
    const refused = await sluice.api('DELETE', `/v1/messages/${now.body.id}`);
    expect(refused.status).toBe(409);
    // Past the cancelled message's time, one more to the same lane: it would have gone first.
    clock.advance(700);
    await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/after` });
    await eventually(() => sink.arrivals.length >= 2, 'the message sent after');
    expect(sink.arrivals.map((a) => a.url)).toEqual(['/now', '/after']);
    expect(await stateOf(later.body.id)).toBe('cancelled');
  });

  it('holds messages claimed ahead of their time until each is due, and can still cancel one', async () => {
    const { clock, sink, sluice } = await setupOnStandingClock();
    const late = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/late`, delayMs: 220 });
    const soon = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/soon`, delayMs: 40 });
    const dropped = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/dropped`, delayMs: 230 });
    // Within the push lead the dispatcher has claimed them already (in flight in the store), yet not sent them.
    for (const created of [late, soon, dropped]) await eventually(async () => (await stateOf(created.body.id)) === 'inflight', 'claimed early');
    expect((await sluice.api('DELETE', `/v1/messages/${dropped.body.id}`)).body).toEqual({ id: dropped.body.id, state: 'cancelled' });
    expect(sink.arrivals).toEqual([]);
    clock.advance(40);
    await eventually(() => sink.arrivals.length === 1, '/soon at its time');
    clock.advance(179);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sink.arrivals.map((a) => a.url)).toEqual(['/soon']);
    clock.advance(1);
    await eventually(() => sink.arrivals.length === 2, '/late at its time');
    // Past the cancelled one's time, one more to the same lane: it would have gone first.
    clock.advance(10);
    await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/after` });
    await eventually(() => sink.arrivals.length >= 3, 'the message sent after');
    expect(sink.arrivals.map((a) => a.url)).toEqual(['/soon', '/late', '/after']);
    // An arrival comes before its outcome is stored (outcomes are written in batches): wait for that.
    await eventually(async () => (await stateOf(late.body.id)) === 'delivered' && (await stateOf(soon.body.id)) === 'delivered', 'outcomes stored');
    expect(await stateOf(dropped.body.id)).toBe('cancelled');
  });

  it('returns the first message for a repeated idempotencyKey and creates nothing', async () => {
    const { sink, sluice } = await setup();
    const first = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/x`, idempotencyKey: 'order-42', delayMs: 60_000 });
    const again = await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/y`, idempotencyKey: 'order-42' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect((await sluice.api('GET', '/v1/messages?queue=outbound')).body.messages).toHaveLength(1);
  });

  it('creates a batch in one commit, all or nothing', async () => {
    const { sink, sluice } = await setup();
    const good = Array.from({ length: 50 }, (_, i) => ({ url: `${sink.origin}/${i}`, delayMs: 60_000 }));
    const created = await sluice.api('POST', '/v1/messages/batch', { messages: good });
    expect(created.status).toBe(201);
    expect(created.body.messages).toHaveLength(50);
    const bad = await sluice.api('POST', '/v1/messages/batch', { messages: [...good, { url: 'ftp://nope' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/^messages\.50\.url/);
    const listed = await sluice.api('GET', '/v1/messages?limit=1000');
    expect(listed.body.messages).toHaveLength(50);
  });

  it('refuses bad input with the field named and stores nothing', async () => {
    const { sink, sluice } = await setup();
    const cases: [unknown, RegExp][] = [
      [{ url: `${sink.origin}/`, deliverAt: 'tomorrow' }, /deliverAt/],
      [{ url: `${sink.origin}/`, deliverAt: '2026-13-45T99:00:00Z' }, /deliverAt/],
      [{ url: `${sink.origin}/`, deliverAt: '2026-12-01T09:00:00' }, /deliverAt/],
      [{ url: `${sink.origin}/`, delayMs: -5 }, /delayMs/],
      [{ url: `${sink.origin}/`, deliverAt: 1, delayMs: 1 }, /delayMs/],
      [{ url: 'not a url' }, /url/],
      [{ url: 'file:///etc/passwd' }, /url/],
      [{ url: `${sink.origin}/`, method: 'TRACE' }, /method/],
      [{ url: `${sink.origin}/`, headers: { 'bad header': 'x' } }, /headers/],
      [{ url: `${sink.origin}/`, queue: 'default' }, /queue/],
      [{ url: `${sink.origin}/`, extra: true }, /extra/],
      [{ url: `${sink.origin}/`, body: 'a', bodyBase64: 'YQ==' }, /bodyBase64/],
    ];
    for (const [body, field] of cases) {
      const response = await sluice.api('POST', '/v1/messages', body);
      expect(response.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.body.detail, JSON.stringify(body)).toMatch(field);
    }
    expect((await sluice.api('GET', '/v1/messages')).body.messages).toEqual([]);
  });

  it('lists newest first with a cursor, filtered by state', async () => {
    const { sink, sluice } = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await sluice.api('POST', '/v1/messages', { url: `${sink.origin}/${i}`, delayMs: 60_000 })).body.id);
    const page1 = await sluice.api('GET', '/v1/messages?limit=2&state=scheduled');
    expect(page1.body.messages.map((m: { id: string }) => m.id)).toEqual([ids[4], ids[3]]);
    const page2 = await sluice.api('GET', `/v1/messages?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.messages.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[1]]);
    expect((await sluice.api('GET', '/v1/messages?state=bogus')).status).toBe(400);
    expect((await sluice.api('GET', '/v1/messages?cursor=abc')).status).toBe(400);
    expect((await sluice.api('GET', '/v1/messages/abc')).status).toBe(404);
  });
});
