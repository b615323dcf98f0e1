/**
 * The indexing thread of the journal-first probe: decodes journal records and inserts them into
 * Sluice's schema (messages row, and the payload when asked) with Sluice's own prepared statements,
 * everything that arrived in one turn in one transaction.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../../dist/store/sqlite/database.js';
import { prepareStatements } from '../../dist/store/sqlite/statements.js';

const db = openDatabase(workerData.path);
const sql = prepareStatements(db);
const insertRow = db.prepare(
  `INSERT INTO messages (seq, queue, tenant, state, method, path, query, url, domain, received_at, deliver_at, updated_at, origin)
   VALUES (?, 'default', 'default', 'ready', ?, ?, '', NULL, '', ?, ?, ?, 'source:default')`,
);

let arrived = [];
const index = db.transaction((buffers, now) => {
  for (const bytes of buffers) {
    const records = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at < records.length; at += records.readUInt32LE(at)) {
      const id = records.readUInt32LE(at + 4);
      const metaEnd = at + 16 + records.readUInt32LE(at + 8);
      const [method, path, raw] = JSON.parse(records.toString('utf8', at + 16, metaEnd));
      insertRow.run(id, method, path, now, now, now);
      if (!workerData.payloads) continue;
      const headers = [];
      for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
      sql.insertPayload.run(id, JSON.stringify(headers), records.subarray(metaEnd, metaEnd + records.readUInt32LE(at + 12)));
    }
  }
});

parentPort.on('message', (bytes) => {
  if (arrived.length === 0) {
    setImmediate(() => {
      const buffers = arrived;
      arrived = [];
      index(buffers, Date.now());
    });
  }
  arrived.push(bytes);
});
