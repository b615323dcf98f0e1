import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/client/errors.js';
import { readServerSentEvents, type ServerSentEvent } from '../../src/client/sse.js';

/** A body that arrives in exactly these chunks. */
function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function events(stream: ReadableStream<Uint8Array>): Promise<ServerSentEvent[]> {
  const found: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(stream)) found.push(event);
  return found;
}

describe('readServerSentEvents', () => {
  it('reads named events with ids, skipping comments and retry', async () => {
    const stream = body('retry: 2000\n\nevent: snapshot\ndata: {"a":1}\n\n: heartbeat\n\nevent: dead\nid: 7\ndata: {"id":"3"}\n\n');
    expect(await events(stream)).toEqual([
      { event: 'snapshot', data: '{"a":1}', id: undefined },
      { event: 'dead', data: '{"id":"3"}', id: '7' },
    ]);
  });

  it('joins frames and lines split across chunks, in the middle of a field or of a CRLF', async () => {
    const stream = body('ev', 'ent: snap', 'shot\r', '\ndata: {"a"', ':1}\r\n\r', '\ndata: x\n', '\n');
    expect(await events(stream)).toEqual([
      { event: 'snapshot', data: '{"a":1}', id: undefined },
      { event: 'message', data: 'x', id: undefined },
    ]);
  });

  it('joins several data lines with a newline, and takes a field without a space after the colon', async () => {
    expect(await events(body('data:one\ndata: two\ndata\n\n'))).toEqual([{ event: 'message', data: 'one\ntwo\n', id: undefined }]);
  });

  it('keeps multi-byte characters split between chunks', async () => {
    const bytes = new TextEncoder().encode('data: grüße\n\n');
    const split = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 9));
        controller.enqueue(bytes.slice(9));
        controller.close();
      },
    });
    expect((await events(split))[0]?.data).toBe('grüße');
  });

  it('dispatches nothing for a frame without data, nor for an unfinished last frame', async () => {
    expect(await events(body('event: snapshot\n\ndata: cut off'))).toEqual([]);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('1', now)).toBe(1);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
