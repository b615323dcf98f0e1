/**
 * Parent-side handles for the helper processes: the sink (sink-child.js) and the bare HTTP
 * ceiling server (bare-http-child.js), spoken to over IPC.
 */
import { fork } from 'node:child_process';
import { Pool } from 'undici';
import { fileURLToPath } from 'node:url';

const SINK = fileURLToPath(new URL('./sink-child.js', import.meta.url));
const BARE = fileURLToPath(new URL('./bare-http-child.js', import.meta.url));

function forkReady(script, args, readyTimeoutMs = 15_000) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), readyTimeoutMs);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve({ child, port: message.port });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** A sink in its own process. */
export class SinkProcess {
  /**
   * @param {{ host?: string, delayMs?: number, close?: boolean, recordBody?: boolean, countHosts?: boolean }} options
   */
  static async start(options = {}) {
    const { child, port } = await forkReady(SINK, [JSON.stringify(options)]);
    return new SinkProcess(child, port, options.host ?? '127.0.0.1');
  }

  constructor(child, port, host) {
    this.child = child;
    this.port = port;
    this.host = host;
    this.nextId = 1;
    this.waiting = new Map();
    child.on('message', (message) => {
      const done = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      done?.(message);
    });
  }

  /** host:port, the domain key Sluice uses for this sink when it is addressed by `host`. */
  domain(host = this.host) {
    return `${host}:${this.port}`;
  }

  url(path = '/hook', host = this.host) {
    return `http://${host}:${this.port}${path}`;
  }

  ask(cmd) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, cmd });
    });
  }

  /** { count, inFlight } */
  count() {
    return this.ask('count');
  }

  /** { count, maxInFlight, times[], seqs[], deliverAts[], distinctHosts } */
  stats() {
    return this.ask('stats');
  }

  reset() {
    return this.ask('reset');
  }

  /**
   * Run `requests` POSTs through the sink, `concurrency` at a time, then forget them: the sink is
   * the measuring instrument, and a cold one (JIT, first connections) adds its own delay to the
   * first arrivals it times.
   */
  async warmUp(requests = 3_000, concurrency = 20) {
    const pool = new Pool(`http://${this.host}:${this.port}`, { connections: concurrency });
    let left = requests;
    const worker = async () => {
      while (left-- > 0) {
        const response = await pool.request({ method: 'POST', path: '/warm-up', body: '{}', headers: { 'content-type': 'application/json' } });
        await response.body.dump();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await pool.close();
    await this.reset();
  }

  /** Resolve once the sink has seen `n` requests; reject after `timeoutMs` with what it saw. */
  async waitForCount(n, timeoutMs, pollMs = 100) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { count } = await this.count();
      if (count >= n) return count;
      if (Date.now() > deadline) throw new Error(`sink saw ${count} of ${n} requests within ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  stop() {
    return stopChild(this.child);
  }
}

/** A bare node:http server with no storage: `ingest` (202 to any POST) or `pull` (see bare-http-child.js). */
export async function startBareHttp(mode = 'ingest') {
  const { child, port } = await forkReady(BARE, [mode]);
  return { url: `http://127.0.0.1:${port}`, child, stop: () => stopChild(child) };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
