import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as users get it: `npm pack` (of the dist/ the suite built), unpacked into the
 * node_modules of a small TypeScript project that has nothing else of this repository. Its
 * dependencies are links to the ones installed here: nothing is fetched.
 */
const ROOT = process.cwd();
const INSTALLED = realpathSync(join(ROOT, 'node_modules'));
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  exports: Record<string, { types: string; default: string } | string>;
};

let scratch: string;
let consumer: string;
let packed: string[];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sluice-pack-'));
  const output = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8' });
  const [result] = JSON.parse(output) as { filename: string; files: { path: string }[] }[];
  packed = result!.files.map((file) => file.path);

  consumer = join(scratch, 'consumer');
  const modules = join(consumer, 'node_modules');
  mkdirSync(modules, { recursive: true });
  execFileSync('tar', ['-xzf', join(scratch, result!.filename), '-C', modules]);
  renameSync(join(modules, 'package'), join(modules, 'sluice'));
  mkdirSync(join(modules, '@types'));
  for (const name of ['typescript', '@types/node', ...Object.keys(manifest.dependencies)]) symlinkSync(join(INSTALLED, name), join(modules, name), 'dir');
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
}, 60_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tsconfig(file: string, extra: Record<string, unknown> = {}): string {
  const path = join(consumer, `tsconfig.${file}.json`);
  const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], skipLibCheck: true, ...extra };
  writeFileSync(path, JSON.stringify({ compilerOptions, files: [file] }));
  return path;
}

function tsc(project: string) {
  return spawnSync(process.execPath, [join(consumer, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: consumer, encoding: 'utf8' });
}

const USE = `import { SluiceApiError, SluiceClient, type PulledMessage, type StatsSnapshot } from 'sluice';
import { startSluice, type RunningSluice } from 'sluice/server';

const node: RunningSluice = await startSluice({
  port: 0,
  config: { log: { level: 'silent' }, queues: { jobs: { mode: 'pull', maxReceives: 3 } }, sources: { shop: { queue: 'jobs' } } },
});
const client = new SluiceClient({ url: node.url, key: node.adminKey });
const { id } = await client.ingest('shop', JSON.stringify({ order: 1 }), { headers: { 'content-type': 'application/json' } });
const pulled: PulledMessage[] = (await client.pull('jobs', { max: 10, waitMs: 2000 })).messages;
const acked: number = (await client.ack('jobs', pulled.map((message) => message.receipt))).acked;
let code: string | undefined;
try {
  await client.getQueue('missing');
} catch (error) {
  if (error instanceof SluiceApiError) code = error.code;
}
let snapshot: StatsSnapshot | undefined;
for await (const frame of client.streamStats()) {
  if (frame.type === 'snapshot') snapshot = frame.data;
  break;
}
const dashboard = (await fetch(node.url + '/dashboard')).status;
await node.stop();
console.log(JSON.stringify({ id, pulled: pulled.map((message) => message.id), acked, code, scope: snapshot?.scope, dashboard }));
`;

/** Each line is wrong in a way only real types can tell. */
const MISUSE = `import { SluiceClient } from 'sluice';
import { startSluice } from 'sluice/server';
const client = new SluiceClient({ url: 'http://127.0.0.1:7070' });
const id: number = (await client.send({ url: 'https://example.com/hook' })).id;
await client.pull('jobs', { maxMessages: 3 });
await startSluice({ config: { queues: { jobs: { mode: 'sideways' } } } });
await client.addSchedule({ name: 'both', cron: '* * * * *', every: '5m', message: {} });
`;

describe('the packed package', () => {
  it('ships the built entries, the CLI, the dashboard and the sources, and no tests', () => {
    const entries = Object.values(manifest.exports).flatMap((entry) => (typeof entry === 'string' ? [entry] : [entry.types, entry.default]));
    for (const file of [manifest.main, manifest.types, ...Object.values(manifest.bin), ...entries]) expect(packed).toContain(file.replace(/^\.\//, ''));
    expect(packed).toEqual(expect.arrayContaining(['dist/index.d.ts', 'dist/server.d.ts', 'src/dashboard/index.html', 'src/dashboard/app.js', 'src/dashboard/views.js', 'src/dashboard/app.css']));
    expect(packed.filter((file) => /^(test|bench|scripts|docs)\/|\.test\.|^node_modules\//.test(file))).toEqual([]);
    expect(manifest.files).toEqual(['dist', 'src']);
  });

  it('type-checks a consumer of sluice and sluice/server, and runs it on the packed files', () => {
    writeFileSync(join(consumer, 'use.ts'), USE);
    // skipLibCheck off: the package's own declaration files must compile too.
    const checked = tsc(tsconfig('use.ts', { outDir: 'out', skipLibCheck: false }));
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);

    const run = spawnSync(process.execPath, [join(consumer, 'out/use.js')], { cwd: consumer, encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ id: '1', pulled: ['1'], acked: 1, code: 'SLUICE_ERR_QUEUE_NOT_FOUND', scope: 'admin', dashboard: 200 });
  }, 120_000);

  it('reports type errors in a wrong use (the check can fail)', () => {
    writeFileSync(join(consumer, 'misuse.ts'), MISUSE);
    const checked = tsc(tsconfig('misuse.ts', { noEmit: true }));
    expect(checked.status).not.toBe(0);
    const lines = [...checked.stdout.matchAll(/misuse\.ts\((\d+),\d+\): error TS\d+/g)].map((match) => Number(match[1]));
    expect([...new Set(lines)]).toEqual([4, 5, 6, 7]);
  }, 60_000);
});
