/** What the report says about the machine a run happened on. */
import { cpus, totalmem } from 'node:os';

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
