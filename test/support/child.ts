import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ChildSluice {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/**
 * How long a start may take before the test gives up on it. Only a guard against a start that hangs:
 * with two cores shared by a dozen busy processes one start took 10-13 s (under 1 s when idle).
 */
const START_DEADLINE_MS = 60_000;

/**
 * Kill `child` when the running test ends, passed, failed or timed out: a Sluice left running after
 * a failed test would keep working (schedules tick, deliveries retry) and slow every later test.
 */
export function killWhenTestEnds(child: ChildProcess): void {
  onTestFinished(() => killHard(child));
}

/**
 * Run the built `sluice start` as a real child process (npm test builds dist/ first), and resolve
 * once it prints the address it listens on. Call it inside a test: the child dies when the test ends.
 */
export function spawnSluice(args: string[], env: Record<string, string>, cwd: string): Promise<ChildSluice> {
  const child = spawn(process.execPath, [MAIN, 'start', '--port', '0', ...args], {
    cwd,
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killWhenTestEnds(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice did not start within ${START_DEADLINE_MS} ms:\n${output}`)), START_DEADLINE_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve({ child, url: found[1]!, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sluice exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Kill with SIGKILL and wait until the process is gone. */
export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
