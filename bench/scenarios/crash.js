/** The kill -9 row of PERF.md: the crash loop (bench/crash-loop.js), 20 SIGKILLs under mixed load. */
import { runCrashLoop } from '../crash-loop.js';
import { fmt } from '../lib/stats.js';

export default {
  id: 'crash',
  title: 'kill -9 during ingest and delivery, 20 times',
  async run(ctx) {
    const r = await runCrashLoop({ kills: 20, log: ctx.log });
    const lost = r.lost.pull.length + r.lost.push.length;
    return {
      rows: [
        { measure: 'acknowledged messages lost', value: String(lost), baseline: `${fmt(r.acknowledged.pull + r.acknowledged.push)} acknowledged`, ratio: '', target: '0', pass: lost === 0 && r.drained },
        { measure: 'kills', value: `${r.kills} of ${r.killsPlanned}`, baseline: '', ratio: '', target: '20', pass: r.kills === r.killsPlanned },
        { measure: 'push messages (incl. schedule ticks) never delivered / dead', value: `${r.notDelivered.length} / ${r.dead}`, baseline: '', ratio: '', target: '0 / 0', pass: r.notDelivered.length === 0 && r.dead === 0 },
        { measure: 'duplicates (pulled twice / delivered twice)', value: `${r.duplicates.pull} / ${r.duplicates.push}`, baseline: `in flight at the kills: ${r.inFlightAtKills.pull} / ${r.inFlightAtKills.push}`, ratio: '', target: 'only those in flight', pass: r.duplicates.unexplained.length === 0 },
        { measure: 'PRAGMA integrity_check', value: r.integrity, baseline: '', ratio: '', target: 'ok', pass: r.integrity === 'ok' },
      ],
      notes: [
        `Sluice as a child process under mixed load (ingest to pull queue \`inbox\` with a consumer pulling and acking; ingest to push queue \`hooks\` delivering to a sink; a schedule \`every: 1s\`), SIGKILL after a random 1–3.5 s, ${r.kills} times, restarted on the same data; then one more start drains everything. ${fmt(r.acknowledged.pull)} + ${fmt(r.acknowledged.push)} ingests acknowledged, ${fmt(r.scheduledTicks)} ticks created, ${fmt(r.storedMessages)} messages stored; bodies checked against what was acknowledged (${r.wrongBody.length} mismatches); ${r.duplicates.staleAcks} leases expired without a kill. ${r.seconds} s in all. Same check: \`npm run crashtest\`.`,
      ],
    };
  },
};
