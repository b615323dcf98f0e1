import SwaggerParser from '@apidevtools/swagger-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { openApiPath } from '../../src/http/openapi.js';
import { Router } from '../../src/http/router.js';
import { documentedRoutes, plainRoutes, registerApiRoutes } from '../../src/http/routes/index.js';
import { DocumentSchemas, describeErrors, type OpenApiDocument, type Operation } from '../support/openapi.js';
import { startSluice, type TestSluice } from '../support/sluice.js';

let sluice: TestSluice | undefined;
afterEach(async () => {
  await sluice?.stop();
  sluice = undefined;
});

async function fetchDocument(url: string): Promise<OpenApiDocument> {
  const response = await fetch(`${url}/openapi.json`); // no key: the document is public
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as OpenApiDocument;
}

function operations(document: OpenApiDocument): { method: string; path: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );
}

/** A request to a path of the document, its parameters filled with `x`; an event stream is closed once it answers. */
async function send(url: string, method: string, path: string, operation: Operation, key?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (operation.requestBody) {
    body = '{}';
    headers['content-type'] = 'application/json';
  }
  const abort = new AbortController();
  const response = await fetch(`${url}${path.replace(/\{[^}]+\}/g, 'x')}`, { method, headers, body, signal: abort.signal });
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    abort.abort();
    return { status: response.status, body: undefined };
  }
  const text = await response.text();
  return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

describe('GET /openapi.json', () => {
  it('lists every registered route with its method and path, and nothing the server does not serve', async () => {
    sluice = await startSluice();
    const document = await fetchDocument(sluice.url);
    const listed = operations(document).map(({ method, path }) => `${method} ${path}`);

    // The registrations the server made at start, repeated on a table of our own to read them back.
    const router = new Router();
    registerApiRoutes(router, sluice.app);
    expect(router.routes().length).toBeGreaterThan(30);
    for (const route of router.routes()) expect(listed, `${route.method} ${route.path}`).toContain(`${route.method} ${openApiPath(route.path)}`);
    expect(listed).toContain('DELETE /v1/tenants/{tenant}/keys/{id}');
    expect(listed).toContain('POST /in/{source}');

    const plain = plainRoutes(router);
    const described = documentedRoutes(router, plain).map((route) => `${route.method} ${openApiPath(route.path)}`);
    expect([...listed].sort()).toEqual([...new Set(described)].sort());
    for (const [path, entry] of plain) {
      if (entry.doc === 'page-file') expect(path, 'only the files of documented pages go undescribed').toMatch(/^\/(dashboard|docs)\//);
      else expect(listed).toContain(`GET ${path}`);
    }

    // And the server answers each of them: no "no route" 404, no 405.
    for (const { method, path, operation } of operations(document)) {
      const answer = await send(sluice.url, method, path, operation, sluice.key);
      expect(answer.status, `${method} ${path}`).not.toBe(405);
      if (answer.status === 404) expect(answer.body.detail, `${method} ${path}`).not.toMatch(/^(no route|nothing at)/);
    }
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    sluice = await startSluice();
    const document = await fetchDocument(sluice.url);
    expect(document.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('marks each route with who may call it, and the server holds to it', async () => {
    sluice = await startSluice();
    const document = await fetchDocument(sluice.url);
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['adminKey', 'tenantKey']);
    expect(await sluice.api('POST', '/v1/tenants', { name: 'acme' })).toMatchObject({ status: 201 });
    const tenantKey = (await sluice.api('POST', '/v1/tenants/acme/keys')).body.key as string;
    const seen = new Set<string>();
    for (const { method, path, operation } of operations(document)) {
      const auth = operation['x-sluice-auth'];
      seen.add(auth);
      const where = `${method} ${path}`;
      if (auth === 'admin') {
        expect(operation.security, where).toEqual([{ adminKey: [] }]);
        expect((await send(sluice.url, method, path, operation)).status, where).toBe(401);
        const asTenant = await send(sluice.url, method, path, operation, tenantKey);
        expect([asTenant.status, asTenant.body?.code], where).toEqual([403, 'SLUICE_ERR_FORBIDDEN']);
      } else if (auth === 'tenant') {
        expect(operation.security, where).toEqual([{ adminKey: [] }, { tenantKey: [] }]);
        expect((await send(sluice.url, method, path, operation)).status, where).toBe(401);
        const asTenant = await send(sluice.url, method, path, operation, tenantKey);
        expect(asTenant.status, where).not.toBe(401);
        expect(asTenant.body?.code, where).not.toBe('SLUICE_ERR_FORBIDDEN');
      } else {
        expect(['none', 'source-signature'], where).toContain(auth);
        expect(operation.security, where).toEqual([]);
        expect((await send(sluice.url, method, path, operation)).status, where).not.toBe(401);
      }
    }
    expect([...seen].sort()).toEqual(['admin', 'none', 'source-signature', 'tenant']);
    const ingest = document.paths['/in/{source}']!;
    for (const method of ['post', 'put', 'patch', 'get']) expect(ingest[method]!['x-sluice-auth']).toBe('source-signature');
  });

  it('documents problem+json errors with type, title, status, detail and code', async () => {
    sluice = await startSluice();
    const document = await fetchDocument(sluice.url);
    const problem = document.components.schemas.Problem as { required: string[]; properties: Record<string, unknown> };
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
    for (const { method, path, operation } of operations(document)) {
      expect(operation.responses.default?.content?.['application/problem+json'], `${method} ${path}`).toBeDefined();
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400) expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
      }
    }
    const validate = new DocumentSchemas(document).at('paths', '/v1/queues/{queue}', 'get', 'responses', '404', 'content', 'application/problem+json', 'schema');
    const missing = await sluice.api('GET', '/v1/queues/nope');
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(validate(missing.body), describeErrors(validate)).toBe(true);
    expect(validate({ ...missing.body, code: 'SLUICE_ERR_SCHEDULE_NOT_FOUND' }), 'a code the route does not answer with').toBe(false);
  });
});

describe('the request schema of POST /v1/messages', () => {
  it('refuses what the route refuses and takes what it takes', async () => {
    sluice = await startSluice({ network: { allowPrivate: true } });
    const document = await fetchDocument(sluice.url);
    const schemas = new DocumentSchemas(document);
    const validate = schemas.at('paths', '/v1/messages', 'post', 'requestBody', 'content', 'application/json', 'schema');
    // Far enough ahead that nothing is delivered while the test runs.
    const later = { url: 'http://127.0.0.1:9/hook', delayMs: 3_600_000 };
    const refused: unknown[] = [
      { ...later, nope: 1 },
      { ...later, method: 'TRACE' },
      { ...later, delayMs: -1 },
      { ...later, delayMs: 1.5 },
      { ...later, idempotencyKey: '' },
      { ...later, idempotencyKey: 'k'.repeat(257) },
      { ...later, headers: { 'x-number': 1 } },
      { ...later, headers: { 'bad name': 'v' } },
      { ...later, headers: { 'x-split': 'a\r\nx-injected: 1' } },
      { ...later, queue: 'not a name!' },
      { ...later, retry: { maxAttempts: 0 } },
      { ...later, retry: { backoff: { factor: 2 } } },
      { ...later, bodyBase64: 'not base64!' },
      { ...later, body: 'a', bodyBase64: 'YQ==' },
      { url: later.url, deliverAt: Date.now() + 60_000, delayMs: 1 },
      { ...later, url: '' },
      'a string',
      [later],
    ];
    const taken: unknown[] = [
      later,
      { ...later, method: 'PUT', headers: { 'x-a': 'b' }, body: { a: 1 }, idempotencyKey: 'k1', retry: { maxAttempts: 3, backoff: { initialMs: 10 } } },
      { url: later.url, bodyBase64: 'aGVsbG8=', deliverAt: new Date(Date.now() + 3_600_000).toISOString() },
      { ...later, body: 'plain text', headers: { 'content-type': 'text/plain' } },
    ];
    for (const body of refused) {
      const answer = await sluice.api('POST', '/v1/messages', JSON.stringify(body));
      expect([answer.status, answer.body.code], JSON.stringify(body)).toEqual([400, 'SLUICE_ERR_VALIDATION']);
      expect(validate(body), `the schema takes ${JSON.stringify(body)}`).toBe(false);
    }
    for (const body of taken) {
      const answer = await sluice.api('POST', '/v1/messages', JSON.stringify(body));
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      expect(validate(body), `${JSON.stringify(body)}: ${describeErrors(validate)}`).toBe(true);
    }
    const operation = document.paths['/v1/messages']!.post!;
    expect(operation.requestBody!.required, 'an empty body is taken as {}').toBe(false);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '413', '415', 'default']));
  });
});
