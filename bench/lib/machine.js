/** What the report says about the machine a run happened on. */
import { cpus, loadavg, totalmem } from 'node:os';

export function describeMachine(durability) {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    durability,
    date: new Date().toISOString(),
  };
}

/** The load average now (1 / 5 / 15 min), e.g. "3.1 / 2.9 / 2.4": the machine is shared, and the report says how busy it was. */
export function loadNow() {
  return loadavg().map((x) => x.toFixed(1)).join(' / ');
}
