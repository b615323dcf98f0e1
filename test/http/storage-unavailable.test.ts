import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
});

describe('API writes when storage cannot commit', () => {
  it('answer 503 SLUICE_ERR_STORAGE_UNAVAILABLE with Retry-After and store nothing', async () => {
    sluice = await startSluice({ network: { allowPrivate: true } });
    const app = sluice;
    const target = 'http://127.0.0.1:9/hook';
    // Another process holds the database's write lock: each commit waits out its busy timeout (5 s), then fails.
    const locker = new Database(app.app.loaded.sqlitePath);
    locker.exec('BEGIN IMMEDIATE');
    let refused;
    try {
      refused = await Promise.all([
        app.api('POST', '/v1/messages', { url: target, body: { n: 1 } }),
        app.api('POST', '/v1/messages/batch', { messages: [{ url: target }, { url: target }] }),
        app.api('POST', '/v1/schedules', { name: 'nightly', cron: '0 3 * * *', message: { url: target } }),
      ]);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    for (const response of refused) {
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.body.code).toBe('SLUICE_ERR_STORAGE_UNAVAILABLE');
    }
    expect((await app.api('GET', '/v1/messages')).body.messages).toEqual([]);
    expect((await app.api('GET', '/v1/schedules')).body.schedules).toEqual([]);
    // Storage is back: the same writes succeed.
    expect((await app.api('POST', '/v1/messages', { url: target, body: { n: 1 } })).status).toBe(201);
    expect((await app.api('POST', '/v1/schedules', { name: 'nightly', cron: '0 3 * * *', message: { url: target } })).status).toBe(201);
  }, 60_000);
});
