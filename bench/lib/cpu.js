/**
 * CPU seconds from /proc, for the "CPU per 10,000 messages" figures: a process's utime + stime (all
 * its threads), and PostgreSQL's — every `postgres` process on the machine, and, because other users
 * of the same server (test suites running beside the benchmark) add to that sum, separately the
 * backends that serve the connections of given client processes.
 *
 * A backend is matched to its client by the TCP port: PostgreSQL titles each backend
 * `postgres: … 127.0.0.1(<client port>) …`, and the client's sockets to port 5432 are found through
 * /proc/<pid>/fd and /proc/<pid>/net/tcp. Pools open and close connections while they run, so the
 * sampler looks every `intervalMs`: a backend that appears during the measure counts from zero, and
 * one that exits between two samples loses what it used since the last one (a pool closes only idle
 * connections, which use next to nothing).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** USER_HZ on Linux: the unit of utime and stime in /proc/<pid>/stat. */
const TICKS_PER_SECOND = 100;
const POSTGRES_PORT = 5432;

/** utime + stime of one process in ticks, or undefined once it is gone. */
function ticksOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** CPU seconds a process (every thread of it) has used so far; undefined once it is gone. */
export function processCpuSeconds(pid) {
  const ticks = ticksOf(pid);
  return ticks === undefined ? undefined : ticks / TICKS_PER_SECOND;
}

/**
 * CPU seconds each thread of a process has used so far: Map thread id → seconds (the main thread's
 * id is the pid). Node names every thread "node", so a caller tells them apart by what they use: a
 * scenario that is mostly writes finds the store thread as the busiest thread besides the main one.
 */
export function threadCpuSeconds(pid) {
  const used = new Map();
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return used;
  }
  for (const tid of tids) {
    const ticks = ticksOf(`${pid}/task/${tid}`);
    if (ticks !== undefined) used.set(Number(tid), ticks / TICKS_PER_SECOND);
  }
  return used;
}

/** Every postgres process: Map pid → { ticks, clientPort (TCP backends), backend }. */
function postgresProcesses() {
  const found = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const title = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const port = /\((\d+)\)/.exec(title);
      found.set(Number(name), {
        ticks: Number(fields[11]) + Number(fields[12]),
        clientPort: port ? Number(port[1]) : undefined,
        backend: port !== null || title.includes('[local]'),
      });
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/** Local ports of `pid`'s TCP connections to PostgreSQL. */
export function postgresClientPorts(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return new Set();
  }
  const ports = new Set();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = Number.parseInt(cols[1].split(':')[1], 16);
      const remote = Number.parseInt(cols[2].split(':')[1], 16);
      if (remote === POSTGRES_PORT && inodes.has(cols[9])) ports.add(local);
    }
  }
  return ports;
}

/**
 * Measure CPU over an interval: `start()`, the work, then `stop()`, which returns
 * { processes: { label → seconds }, postgresAll, postgresShared, postgresBackends: { label → seconds } }:
 * postgresAll is every postgres process; postgresShared those that serve no client (postmaster, WAL
 * writer, checkpointer, background writer: work every user of the server causes); postgresBackends
 * the backends serving each client.
 * `clients`: { label → pid } — Sluice nodes, the benchmark process; each is also measured itself.
 */
export class CpuMeter {
  constructor(clients, intervalMs = 250) {
    this.clients = clients;
    this.intervalMs = intervalMs;
  }

  start() {
    this.processStart = Object.fromEntries(Object.entries(this.clients).map(([label, pid]) => [label, ticksOf(pid) ?? 0]));
    this.first = postgresProcesses(); // pid → ticks at the start (absent: born during the measure, counts from 0)
    this.last = new Map(); // pid → { ticks, owner label or undefined }
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  sample() {
    const owners = new Map();
    for (const [label, pid] of Object.entries(this.clients)) for (const port of postgresClientPorts(pid)) owners.set(port, label);
    for (const [pid, info] of postgresProcesses()) {
      const known = this.last.get(pid);
      const owner = (info.clientPort !== undefined ? owners.get(info.clientPort) : undefined) ?? known?.owner;
      this.last.set(pid, { ticks: info.ticks, owner, backend: info.backend });
    }
  }

  stop() {
    clearInterval(this.timer);
    this.sample();
    const processes = {};
    for (const [label, pid] of Object.entries(this.clients)) processes[label] = ((ticksOf(pid) ?? this.processStart[label]) - this.processStart[label]) / TICKS_PER_SECOND;
    let all = 0;
    let shared = 0;
    const backends = Object.fromEntries(Object.keys(this.clients).map((label) => [label, 0]));
    for (const [pid, { ticks, owner, backend }] of this.last) {
      const used = ticks - (this.first.get(pid)?.ticks ?? 0);
      all += used;
      if (owner !== undefined) backends[owner] += used;
      else if (!backend) shared += used;
    }
    return {
      processes,
      postgresAll: all / TICKS_PER_SECOND,
      postgresShared: shared / TICKS_PER_SECOND,
      postgresBackends: Object.fromEntries(Object.entries(backends).map(([label, ticks]) => [label, ticks / TICKS_PER_SECOND])),
    };
  }
}

/** Run `work` under a CpuMeter; returns { result, cpu, seconds }. */
export async function metered(clients, work) {
  const meter = new CpuMeter(clients);
  meter.start();
  const started = performance.now();
  try {
    const result = await work();
    return { result, seconds: (performance.now() - started) / 1000, cpu: meter.stop() };
  } finally {
    clearInterval(meter.timer);
  }
}
