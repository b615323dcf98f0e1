import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the sink saw it. */
export interface Arrival {
  at: number;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Requests in flight at this sink when this one arrived (itself included). */
  inFlight: number;
}

/** How to answer: after `delayMs`, or once `after` settles (a request the test holds until it lets go). */
export type SinkHandler = (
  req: IncomingMessage,
  body: Buffer,
  arrival: Arrival,
) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number; after?: Promise<unknown> };

/**
 * A real HTTP server on 127.0.0.x that records every request with its arrival time and the number
 * of requests in flight at that moment, so tests can check limits from the receiving side.
 */
export class Sink {
  readonly arrivals: Arrival[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private server: Server | undefined;
  port = 0;

  constructor(
    private handler: SinkHandler = () => ({ status: 200 }),
    readonly host = '127.0.0.1',
  ) {}

  setHandler(handler: SinkHandler): void {
    this.handler = handler;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, this.host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get origin(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** host:port, the limit key Sluice uses for this sink. */
  get domain(): string {
    return `${this.host}:${this.port}`;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const arrival: Arrival = { at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0), inFlight: this.inFlight };
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      arrival.body = Buffer.concat(chunks);
      this.arrivals.push(arrival);
      const reply = this.handler(req, arrival.body, arrival);
      const finish = () => {
        this.inFlight -= 1;
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body ?? '');
      };
      if (reply.after) void reply.after.then(finish);
      else if (reply.delayMs) setTimeout(finish, reply.delayMs);
      else finish();
    });
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
