/**
 * The server of the journal-first probe (journal-first.js): not Sluice, the least a durable ingest
 * could do. Each request is appended to a journal file as one record (method, path, raw headers,
 * body); every batch gathered in one event-loop turn is written with one writev, fsynced on the thread
 * pool, and only then answered 202 (at most two batches in the disk at once). The records are also
 * handed, as one moved buffer, to a thread that indexes them into Sluice's own SQLite schema off the
 * answer's path. Mode (argv[2]):
 * - full: journal, fsync, index rows and payloads;
 * - rows: journal, fsync, index rows only (payloads would stay in the journal);
 * - journal: journal and fsync, no index;
 * - nosync: journal without fsync, no index.
 */
import { fdatasync, mkdtempSync, openSync, rmSync, writev } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const mode = process.argv[2] ?? 'full';
const MAX_SYNCING = 2;
const dir = mkdtempSync(join(tmpdir(), 'sluice-probe-'));
const journal = openSync(join(dir, 'journal'), 'a');
const indexer =
  mode === 'full' || mode === 'rows'
    ? new Worker(new URL('./journal-first-indexer.js', import.meta.url), { workerData: { path: join(dir, 'db.sqlite'), payloads: mode === 'full' } })
    : undefined;

let nextId = 1;
let waiting = [];
let flushScheduled = false;
let syncing = 0;

/** Record: total length, id, meta length, body length (u32 each), meta JSON, body. */
function encode(id, req, body) {
  const meta = Buffer.from(JSON.stringify([req.method, req.url, req.rawHeaders]));
  const record = Buffer.allocUnsafe(16 + meta.length + body.length);
  record.writeUInt32LE(record.length, 0);
  record.writeUInt32LE(id, 4);
  record.writeUInt32LE(meta.length, 8);
  record.writeUInt32LE(body.length, 12);
  meta.copy(record, 16);
  body.copy(record, 16 + meta.length);
  return record;
}

function flush() {
  flushScheduled = false;
  if (syncing >= MAX_SYNCING || waiting.length === 0) return;
  const batch = waiting;
  waiting = [];
  syncing += 1;
  const bytes = Buffer.concat(batch.map((entry) => entry.record));
  writev(journal, [bytes], (error) => {
    if (error) throw error;
    if (indexer) {
      const moved = new Uint8Array(bytes); // its own ArrayBuffer, moved to the indexer
      indexer.postMessage(moved, [moved.buffer]);
    }
    const done = () => {
      syncing -= 1;
      for (const { id, res } of batch) {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(`{"id":"${id}"}`);
      }
      flush();
    };
    if (mode === 'nosync') setImmediate(done);
    else
      fdatasync(journal, (syncError) => {
        if (syncError) throw syncError;
        done();
      });
  });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const id = nextId++;
    waiting.push({ id, res, record: encode(id, req, Buffer.concat(chunks)) });
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('disconnect', () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
