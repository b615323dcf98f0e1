import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = join(process.cwd(), 'scripts/check-cycles.mjs');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the house of imports', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-cycles-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('has no import cycle in src/, type-only imports included', () => {
    const output = execFileSync(process.execPath, [SCRIPT, 'src'], { encoding: 'utf8' });
    expect(output).toMatch(/^no import cycles among \d+ files/);
  });

  it('counts a cycle made only of type imports', () => {
    mkdirSync(join(scratch, 'a'), { recursive: true });
    writeFileSync(join(scratch, 'a/root.ts'), "import type { Part } from './part.js';\nexport class Root { part?: Part }\n");
    writeFileSync(join(scratch, 'a/part.ts'), "import type { Root } from './root.js';\nexport class Part { root?: Root }\n");
    const run = spawnSync(process.execPath, [SCRIPT, join(scratch, 'a')], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/cycle: (root|part)\.ts → (root|part)\.ts → (root|part)\.ts/);
  });

  it('lets only the composition root and the store itself name a storage backend', () => {
    const offenders = sourceFiles('src')
      .filter((file) => !file.startsWith(join('src', 'store')) && file !== join('src', 'sluice.ts'))
      .filter((file) => /from ['"][./]+(?:store\/)?(?:sqlite|postgres)\//.test(readFileSync(file, 'utf8')))
      .map((file) => relative('.', file));
    expect(offenders).toEqual([]);
  });
});
