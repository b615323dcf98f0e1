import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowGet } from './context.js';

/**
 * One file a page is made of. Files are served only from an allow-list of exact paths, each mapped
 * to one file here: a request path is never joined to a folder, so no path trick reaches another file.
 */
export interface StaticFile {
  /** `{ source: 'dashboard' }`: src/dashboard/ of this package; `{ package: 'uplot', dir: 'dist' }`: a folder of an installed package. */
  from: { source: string } | { package: string; dir?: string };
  file: string;
  type: string;
}

/**
 * Static files read once on first use and kept in memory. There is no build step: our pages live
 * in src/<page>/ (tsc copies nothing), third-party files in their package's folder in node_modules.
 */
export class StaticFiles {
  private readonly cache = new Map<string, Buffer>();
  private readonly folders = new Map<string, string>();

  read(asset: StaticFile): Buffer {
    const path = join(this.directory(asset.from), asset.file);
    let content = this.cache.get(path);
    if (!content) {
      content = readFileSync(path);
      this.cache.set(path, content);
    }
    return content;
  }

  private directory(from: StaticFile['from']): string {
    const key = 'source' in from ? `src/${from.source}` : `${from.package}/${from.dir ?? ''}`;
    let dir = this.folders.get(key);
    if (dir === undefined) {
      dir = 'source' in from ? findSourceDir(from.source, dirname(fileURLToPath(import.meta.url))) : packageDir(from.package, from.dir);
      this.folders.set(key, dir);
    }
    return dir;
  }
}

function packageDir(name: string, dir = ''): string {
  return join(dirname(createRequire(import.meta.url).resolve(`${name}/package.json`)), dir);
}

/**
 * src/<name>/ of the package this file belongs to. Walks up from `start` (src/http/ under vitest,
 * dist/http/ when built) to the folder holding package.json, so it works from either tree and
 * wherever the package is installed.
 */
export function findSourceDir(name: string, start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'src', name);
    if (existsSync(join(dir, 'package.json')) && existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`page files not found: no src/${name}/index.html above ${start}`);
  }
}

/** Answer GET or HEAD with one static file, under the page's Content-Security-Policy. */
export function serveStaticFile(req: IncomingMessage, res: ServerResponse, files: StaticFiles, asset: StaticFile, csp: string): void {
  allowGet(req);
  const content = files.read(asset);
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': content.length,
    'cache-control': 'no-cache',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(req.method === 'HEAD' ? undefined : content);
}
