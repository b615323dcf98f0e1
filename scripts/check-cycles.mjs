// Fails when src/ has an import cycle. Type-only imports count: they are erased at run time, but a
// cycle of types still ties the files into one knot that cannot be understood or changed apart.
// Part of `npm run check`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) files.push(path);
  }
})(root);

const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm;
const edges = new Map();
for (const file of files) {
  const targets = [];
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    targets.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  edges.set(file, targets);
}

const state = new Map(); // 1 = on the stack, 2 = done
const stack = [];
const cycles = [];
function visit(file) {
  state.set(file, 1);
  stack.push(file);
  for (const next of edges.get(file) ?? []) {
    if (state.get(next) === 1) cycles.push([...stack.slice(stack.indexOf(next)), next]);
    else if (!state.has(next)) visit(next);
  }
  stack.pop();
  state.set(file, 2);
}
for (const file of files) if (!state.has(file)) visit(file);

if (cycles.length === 0) {
  console.log(`no import cycles among ${files.length} files`);
} else {
  for (const cycle of cycles) console.log(`cycle: ${cycle.map((f) => relative(root, f)).join(' → ')}`);
  process.exit(1);
}
