/** Types of bench/crash-loop.js for the TypeScript test that imports it. */
export interface CrashLoopOptions {
  kills?: number;
  minUpMs?: number;
  maxUpMs?: number;
  ingestWorkers?: number;
  drainTimeoutMs?: number;
  deadlineMs?: number;
  log?: (line: string) => void;
}

export interface CrashLoopReport {
  ok: boolean;
  kills: number;
  killsPlanned: number;
  seconds: number;
  drained: boolean;
  acknowledged: { pull: number; push: number };
  ingestNon202: number;
  pulled: number;
  delivered: number;
  storedMessages: number;
  scheduledTicks: number;
  lost: { pull: string[]; push: string[] };
  wrongBody: string[];
  notDelivered: string[];
  deliveredButUnseen: string[];
  dead: number;
  inFlightAtKills: { pull: number; push: number };
  duplicates: { pull: number; push: number; staleAcks: number; unexplained: string[] };
  integrity: string;
}

export function runCrashLoop(options?: CrashLoopOptions): Promise<CrashLoopReport>;
