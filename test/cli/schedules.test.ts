import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { killHard, spawnSluice } from '../support/child.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-schedules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice schedule add', () => {
  it('takes a solar event, exclusions, a start, an end and most runs; a bad one gets the 400 naming the field', async () => {
    const key = 'sk_cli_schedules_0123456789abcdef';
    const server = await spawnSluice(['--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: key }, dir);
    const env = { ...process.env, SLUICE_URL: server.url, SLUICE_KEY: key };
    const sluice = async (...args: string[]) => JSON.parse((await run(process.execPath, [MAIN, ...args], { env })).stdout);
    try {
      const solar = await sluice(
        'schedule', 'add', 'porch-lights', 'https://example.com/lights',
        '--solar', 'sunset', '--latitude=-33.8688', '--longitude', '151.2093', '--offset-minutes', '-15',
        '--timezone', 'Australia/Sydney',
        '--exclude-weekdays', 'sat,sun', '--exclude-date', '2099-12-25', '--exclude-date', '2099-12-26',
        '--exclude-time', '12:00-13:30', '--exclude-time', '22:00-06:00',
        '--start-at', '2026-01-01T00:00:00Z', '--end-at', '2099-12-31T00:00:00Z', '--max-runs', '100',
      );
      expect(solar).toMatchObject({
        name: 'porch-lights',
        solar: { event: 'sunset', latitude: -33.8688, longitude: 151.2093, offsetMinutes: -15 },
        timezone: 'Australia/Sydney',
        exclude: { weekdays: ['sat', 'sun'], dates: ['2099-12-25', '2099-12-26'], times: [{ from: '12:00', to: '13:30' }, { from: '22:00', to: '06:00' }] },
        startAt: '2026-01-01T00:00:00Z',
        endAt: '2099-12-31T00:00:00Z',
        maxRuns: 100,
        state: 'active',
        runs: 0,
      });
      expect(solar.nextRuns).toHaveLength(5);
      const weekday = new Intl.DateTimeFormat('en-US', { timeZone: 'Australia/Sydney', weekday: 'short' });
      for (const at of solar.nextRuns as string[]) expect(['Sat', 'Sun']).not.toContain(weekday.format(Date.parse(at)));

      const refused = await run(process.execPath, [MAIN, 'schedule', 'add', 'bad', 'https://example.com/', '--solar', 'sunrise', '--latitude', '95', '--longitude', '0'], { env }).catch(
        (error: { code: number; stderr: string }) => error,
      );
      expect((refused as { code: number }).code).toBe(1);
      expect((refused as { stderr: string }).stderr).toContain('solar.latitude');
    } finally {
      await killHard(server.child);
    }
  });
});
