import { z } from 'zod';
import { allowGet } from '../context.js';
import { buildOpenApiDocument, type DocumentedRoute } from '../openapi.js';
import type { PlainEntry, PlainRoute } from '../server.js';
import { serveStaticFile, StaticFiles, type StaticFile } from '../static-files.js';

/**
 * The API reference page runs only files of this origin: its own initializer and Swagger UI's
 * bundle, both served from here (no CDN), no inline script or style, not framed.
 *
 * Swagger UI needs neither 'unsafe-eval' nor 'unsafe-inline': its bundle's one `new Function`
 * is a fallback for engines without `globalThis`, never reached in a browser that has it, and the
 * styles it sets go through the DOM (element.style), which style-src does not govern. The browser
 * test in test/http/api-reference.test.ts renders the page under this policy and fails on any violation.
 */
export const API_REFERENCE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const HTML = 'text/html; charset=utf-8';
const PAGE = { source: 'api-reference' };
const SWAGGER_UI = { package: 'swagger-ui-dist' };

const PAGE_FILES: Record<string, StaticFile> = {
  '/docs': { from: PAGE, file: 'index.html', type: HTML },
  '/docs/': { from: PAGE, file: 'index.html', type: HTML },
  '/docs/init.js': { from: PAGE, file: 'init.js', type: 'text/javascript; charset=utf-8' },
  '/docs/swagger-ui.css': { from: SWAGGER_UI, file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  '/docs/swagger-ui-bundle.js': { from: SWAGGER_UI, file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  '/docs/favicon.png': { from: SWAGGER_UI, file: 'favicon-32x32.png', type: 'image/png' },
};

const OPENAPI_DOC: PlainEntry['doc'] = {
  summary: 'This document: every route, OpenAPI 3.1',
  tag: 'reference',
  auth: 'none',
  response: {
    status: 200,
    schema: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.record(z.string(), z.unknown()) }),
    description: 'The document',
  },
};

const PAGE_DOC: PlainEntry['doc'] = {
  summary: 'The API reference: this document rendered by Swagger UI',
  tag: 'reference',
  auth: 'none',
  response: { status: 200, contentType: 'text/html', description: 'The page' },
};

/**
 * GET /openapi.json and the /docs page with its files. `routes` gives every documented route; it
 * is asked once, at the first request for the document, when every route has been registered.
 */
export function apiReferenceRoutes(routes: () => readonly DocumentedRoute[]): [string, PlainEntry][] {
  let text: string | undefined;
  const openapi: PlainRoute = (_app, req, res) => {
    allowGet(req);
    text ??= JSON.stringify(buildOpenApiDocument(routes()));
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  const files = new StaticFiles();
  const entries: [string, PlainEntry][] = [['/openapi.json', { handler: openapi, doc: OPENAPI_DOC }]];
  for (const [path, file] of Object.entries(PAGE_FILES)) {
    const handler: PlainRoute = (_app, req, res) => serveStaticFile(req, res, files, file, API_REFERENCE_CSP);
    entries.push([path, { handler, doc: path === '/docs' ? PAGE_DOC : 'page-file' }]);
  }
  return entries;
}
