import { connect, type Socket } from 'node:net';

/** A request written by hand on its own socket, for what fetch cannot do: stall, or hang up mid-body. */
export interface RawRequest {
  socket: Socket;
  /** Everything the server sent until it closed the connection (or the test destroyed it). */
  answer: Promise<string>;
  /** The status of the answer, once its first line has come. */
  status: Promise<number>;
}

/**
 * Open a connection to `url`'s server and write `head` (request line and headers, without the blank
 * line) followed by `body`. The body may be shorter than the content-length the head declares: the
 * request then stays incomplete until the test writes more or destroys the socket.
 */
export function rawRequest(url: string, head: string, body: string | Buffer = ''): RawRequest {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`${head.trim()}\r\nhost: sluice\r\n\r\n`);
  if (body.length > 0) socket.write(body);
  let received = '';
  let settleStatus!: (status: number) => void;
  const status = new Promise<number>((resolve) => (settleStatus = resolve));
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    const line = /^HTTP\/1\.1 (\d{3})/.exec(received);
    if (line) settleStatus(Number(line[1]));
  });
  const answer = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  void answer.then(() => settleStatus(0)); // closed without an answer
  return { socket, answer, status };
}
