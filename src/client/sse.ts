/** One Server-Sent Event as the WHATWG parsing rules build it. */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the frame names none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** The `id:` field, when the frame has one. */
  id: string | undefined;
}

/**
 * The events of a `text/event-stream` body, in order, as they arrive. Comment lines (`: heartbeat`)
 * and `retry:` are skipped; a frame without `data:` dispatches nothing; an unfinished last frame is
 * dropped, as the specification says. Lines may end in LF, CRLF or CR.
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffered = '';
  let frame: ServerSentEvent & { hasData: boolean } = newFrame();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    // A CR at the very end may be the first half of a CRLF: wait for the next chunk to tell.
    const lines = buffered.split(/\r\n|\r(?!$)|\n/);
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line !== '') {
        applyField(frame, line);
        continue;
      }
      if (frame.hasData) yield { event: frame.event, data: frame.data, id: frame.id };
      frame = newFrame();
    }
  }
}

function newFrame(): ServerSentEvent & { hasData: boolean } {
  return { event: 'message', data: '', id: undefined, hasData: false };
}

function applyField(frame: ServerSentEvent & { hasData: boolean }, line: string): void {
  if (line.startsWith(':')) return;
  const colon = line.indexOf(':');
  const name = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? '' : line.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  if (name === 'event') frame.event = value;
  else if (name === 'id') frame.id = value;
  else if (name === 'data') {
    frame.data = frame.hasData ? `${frame.data}\n${value}` : value;
    frame.hasData = true;
  }
}
