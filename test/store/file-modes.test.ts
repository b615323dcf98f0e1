import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
afterAll(async () => sluice?.stop());

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

it('creates the data dir 0700 and the database, its WAL and shared memory, lock and pid files 0600', async () => {
  sluice = await startSluice();
  await sluice.api('POST', '/in/default', '{}', null); // a write, so the WAL surely exists
  const data = join(sluice.dir, 'data');
  expect(modeOf(data)).toBe('700');
  for (const file of ['sluice.db', 'sluice.db-wal', 'sluice.db-shm', 'sluice.db.lock', 'sluice.db.pid']) {
    expect(existsSync(join(data, file)), file).toBe(true);
    expect(modeOf(join(data, file)), file).toBe('600');
  }
});

it('refuses a second node in the same process on the same data dir while the first runs', async () => {
  await expect(startSluice({}, { dir: sluice!.dir })).rejects.toThrow(`is in use by another Sluice (pid ${process.pid})`);
});
