/**
 * Run the built Sluice (`dist/cli/main.js start`) as a child process for benchmarks and the crash
 * loop: write its sluice.yaml, wait for the "listening" line, talk to its API, read its RSS, and stop
 * it gently (SIGTERM) or hard (SIGKILL).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { stringify } from 'yaml';

/** The built CLI; SLUICE_BENCH_MAIN may point at another build (e.g. to compare before and after a change). */
export const MAIN = process.env.SLUICE_BENCH_MAIN ?? fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const BENCH_KEY = 'sk_bench_admin_0123456789abcdef';
const BENCH_SECRET_KEY = Buffer.alloc(32, 0x42).toString('base64');

/** Fail early with a clear message when `npm run build` has not produced the CLI. */
export function requireBuild() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} does not exist: run "npm run build" first`);
}

/**
 * Start Sluice on 127.0.0.1 port 0 with its data in `dir`/data. `config` (an object) is written as
 * `dir`/sluice.yaml; without it Sluice runs bare (source `default` → pull queue `default`).
 */
export async function startSluice(dir, config, options = {}) {
  requireBuild();
  mkdirSync(dir, { recursive: true });
  const args = [MAIN, 'start', '--port', '0', '--data-dir', join(dir, 'data')];
  if (config) {
    writeFileSync(join(dir, 'sluice.yaml'), stringify(config));
    args.push('--config', join(dir, 'sluice.yaml'));
  }
  const child = spawn(process.execPath, [...profileArgs(), ...(options.nodeArgs ?? []), ...args], {
    cwd: dir,
    // The vault key: required on PostgreSQL (none is generated there), harmless on SQLite.
    env: { ...process.env, SLUICE_ADMIN_KEY: BENCH_KEY, SLUICE_SECRET_KEY: BENCH_SECRET_KEY, SLUICE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await waitForListening(child, options.startTimeoutMs ?? 60_000);
  return new SluiceProcess(child, url, join(dir, 'data', 'sluice.db'));
}

/** With SLUICE_BENCH_PROF=<dir>, every Sluice child writes a V8 CPU profile there when it exits. */
function profileArgs() {
  const dir = process.env.SLUICE_BENCH_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

function waitForListening(child, timeoutMs) {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.length > 20_000) output = output.slice(-20_000);
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        resolve(found[1]);
      }
    };
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sluice exited (${code ?? signal}) before listening:\n${output}`));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
  });
}

/** A running Sluice child. */
export class SluiceProcess {
  constructor(child, url, dbPath) {
    this.child = child;
    this.url = url;
    this.dbPath = dbPath;
    this.pool = new Pool(url, { connections: 8, keepAliveTimeout: 30_000 });
    this.stderr = '';
    child.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-10_000);
    });
  }

  get pid() {
    return this.child.pid;
  }

  /** Call the HTTP API with the admin key; returns { status, body } (body parsed when JSON). */
  async api(method, path, body) {
    const headers = { authorization: `Bearer ${BENCH_KEY}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.pool.request({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.body.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: response.statusCode, body: parsed };
  }

  /** Like api(), but throws unless the status is 2xx. */
  async apiOk(method, path, body) {
    const result = await this.api(method, path, body);
    if (result.status < 200 || result.status > 299) {
      throw new Error(`${method} ${path} answered ${result.status}: ${JSON.stringify(result.body).slice(0, 500)}`);
    }
    return result.body;
  }

  /** Resident set size of the Sluice process in bytes (VmRSS), or undefined once it is gone. */
  rssBytes() {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const found = /VmRSS:\s+(\d+)\s+kB/.exec(status);
      return found ? Number(found[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM and wait for a clean exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 15_000) {
    await this.pool.destroy().catch(() => {});
    await signalAndWait(this.child, 'SIGTERM', graceMs);
  }

  /** SIGKILL and wait until the process is gone. */
  async kill() {
    await signalAndWait(this.child, 'SIGKILL', 10_000);
    await this.pool.destroy().catch(() => {});
  }
}

function signalAndWait(child, signal, graceMs) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** POST `body` as JSON through `pool` with the bench's admin key; the parsed answer, or an error naming the status. */
export async function postJson(pool, path, body) {
  const response = await pool.request({
    method: 'POST',
    path,
    headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const parsed = await response.body.json();
  if (response.statusCode !== 200) throw new Error(`${path} answered ${response.statusCode}: ${JSON.stringify(parsed).slice(0, 300)}`);
  return parsed;
}
