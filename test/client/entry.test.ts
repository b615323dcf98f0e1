import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/**
 * Importing `sluice` (the client) must load nothing of the server. A child process imports a built
 * entry with a resolve hook that writes down every module it resolves (every ESM import, ours
 * included), then reports the CommonJS modules in require.cache (where better-sqlite3, pino and
 * undici land) and its active handles. The server entry is the control: it must show what the
 * client must not.
 */
describe('the sluice entry (client)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-entry-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  writeFileSync(
    join(scratch, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.PROBE_LOG, result.url + '\\n');
  return result;
}
`,
  );
  writeFileSync(join(scratch, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
  writeFileSync(
    join(scratch, 'probe.mjs'),
    `import { createRequire } from 'node:module';
const mod = await import(process.argv[2]);
const require = createRequire(import.meta.url);
process.stdout.write(JSON.stringify({
  exports: Object.keys(mod).sort(),
  commonjs: Object.keys(require.cache),
  resources: process.getActiveResourcesInfo(),
}));
`,
  );

  function probe(entry: string) {
    const log = join(scratch, `${entry.replace(/\W/g, '_')}.log`);
    writeFileSync(log, '');
    const run = spawnSync(process.execPath, ['--import', pathToFileURL(join(scratch, 'register.mjs')).href, join(scratch, 'probe.mjs'), pathToFileURL(join(DIST, entry)).href], {
      env: { ...process.env, PROBE_LOG: log },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { exports: string[]; commonjs: string[]; resources: string[] };
    const resolved = readFileSync(log, 'utf8').split('\n').filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url));
    return { ...report, files: [...new Set([...resolved, ...report.commonjs])] };
  }

  it('loads only the client files, no dependency, and starts nothing', () => {
    const { exports, files, resources } = probe('index.js');
    expect(exports).toEqual(['SluiceApiError', 'SluiceClient', 'readServerSentEvents']);
    const fromDist = files.filter((file) => file.startsWith(DIST)).map((file) => file.slice(DIST.length));
    expect(fromDist.length).toBeGreaterThan(0);
    expect(fromDist.filter((file) => file !== 'index.js' && !file.startsWith('client/'))).toEqual([]);
    expect(files.filter((file) => file.includes('node_modules'))).toEqual([]);
    // The child ran to its end by itself (spawnSync returned); nothing was left listening or ticking.
    expect(resources.filter((kind) => /Timeout|Immediate|TCP|UDP|Worker|MessagePort|Process|Signal/.test(kind))).toEqual([]);
  });

  it('sees the server when the server entry is imported (the probe can fail)', () => {
    const { exports, files } = probe('server.js');
    expect(exports).toContain('startSluice');
    expect(files.some((file) => file === join(DIST, 'sluice.js'))).toBe(true);
    expect(files.some((file) => /node_modules[\\/]better-sqlite3[\\/]/.test(file))).toBe(true);
  });
});
