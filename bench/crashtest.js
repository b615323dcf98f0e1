/**
 * `npm run crashtest`: 20 SIGKILLs of Sluice under mixed load, then the proof (see crash-loop.js).
 * Prints the report as JSON and exits 1 unless everything holds. `--kills N` to change the count.
 */
import { runCrashLoop } from './crash-loop.js';

const at = process.argv.indexOf('--kills');
const kills = at >= 0 ? Number(process.argv[at + 1]) : 20;
const report = await runCrashLoop({ kills, log: (line) => process.stderr.write(`[crashtest] ${line}\n`) });
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.stderr.write(report.ok ? '[crashtest] OK: no acknowledged message lost, duplicates only where in flight at a kill, integrity ok\n' : '[crashtest] FAILED\n');
process.exit(report.ok ? 0 : 1);
