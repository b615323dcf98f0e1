// Empties dist/ before a build, so that the package never ships the output of a source file that
// no longer exists.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
