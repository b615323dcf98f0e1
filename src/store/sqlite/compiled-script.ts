import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The compiled script of a thread this directory starts (`name`.js). Run from the TypeScript sources
 * (the test suite), a module here has no compiled sibling, so the build's copy in dist/ is used:
 * `npm test` builds first.
 */
export function compiledScript(name: string): URL {
  const sibling = new URL(`./${name}.js`, import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  return new URL(`../../../dist/store/sqlite/${name}.js`, import.meta.url);
}
