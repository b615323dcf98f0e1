import { describe, expect, it, vi } from 'vitest';
import { sourceConfigSchema } from '../../src/config/schema.js';
import {
  chooseRoutes,
  explainRouting,
  MAX_ROUTES,
  requestResolver,
  routedQueues,
  routeLabel,
  routeSchema,
  type RoutedRequest,
  type Routing,
} from '../../src/routing/routes.js';

function request(body: unknown, overrides: Partial<RoutedRequest> = {}): RoutedRequest {
  return {
    method: 'POST',
    path: '/',
    query: '',
    headers: [['content-type', 'application/json']],
    body: Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)),
    ...overrides,
  };
}

const INVOICE_PAID = request({ id: 'evt_1', type: 'invoice.paid', data: { object: { amount_paid: 4200, currency: 'eur' } } });
const INVOICE_FAILED = request({ id: 'evt_2', type: 'invoice.payment_failed', data: { object: { amount_paid: 0, currency: 'usd' } } });
const CUSTOMER = request({ id: 'evt_3', type: 'customer.created', data: { object: { email: 'a@example.com' } } });

/** Stripe's invoice.* to billing; paid ones also to ledger; euro ones to a workflow; everything to archive. */
function stripeRouting(extra: Partial<Routing> = {}): Routing {
  return sourceConfigSchema.parse({
    routes: [
      { name: 'billing', queue: 'billing', when: { path: 'body.type', op: 'prefix', value: 'invoice.' } },
      { name: 'ledger', queue: 'ledger', when: { all: [{ path: 'body.type', op: 'eq', value: 'invoice.paid' }, { path: 'body.data.object.amount_paid', op: 'gt', value: 0 }] } },
      { workflow: 'euro-invoices', when: { path: 'body.data.object.currency', op: 'eq', value: 'eur' } },
      { name: 'archive', queue: 'archive' },
    ],
    ...extra,
  });
}

/** The same without the catch-all route, so that something can go unmatched. */
function narrowRouting(extra: Partial<Routing> = {}): Routing {
  const routing = stripeRouting(extra);
  return { ...routing, routes: routing.routes!.slice(0, 3) };
}

const indexes = (routing: Routing, on: RoutedRequest) => chooseRoutes(routing, on).routes.map((taken) => taken.index);

describe('requestResolver', () => {
  it('reads header names in any case, a header sent twice as "a, b"', () => {
    const resolve = requestResolver(request({}, { headers: [['X-Event', 'a'], ['x-event', 'b'], ['Host', 'h']] }));
    expect(resolve('headers.x-event'.split('.'))).toBe('a, b');
    expect(resolve('headers.X-EVENT'.split('.'))).toBe('a, b');
    expect(resolve('headers.host'.split('.'))).toBe('h');
    expect(resolve('headers.missing'.split('.'))).toBeUndefined();
  });

  it('reads a query parameter sent twice as its first value, percent-decoded', () => {
    const resolve = requestResolver(request({}, { query: 'a=1&a=2&b=x%2By+z' }));
    expect(resolve('query.a'.split('.'))).toBe('1');
    expect(resolve('query.b'.split('.'))).toBe('x+y z');
    expect(resolve('query.c'.split('.'))).toBeUndefined();
  });

  it('parses the body once, and only when a body path is read', () => {
    const on = request({ type: 'invoice.paid' });
    const toString = vi.spyOn(on.body, 'toString');
    const resolve = requestResolver(on);
    expect(resolve('headers.content-type'.split('.'))).toBe('application/json');
    expect(resolve('method'.split('.'))).toBe('POST');
    expect(toString).not.toHaveBeenCalled();
    expect(resolve('body.type'.split('.'))).toBe('invoice.paid');
    expect(resolve('body.missing'.split('.'))).toBeUndefined();
    expect(toString).toHaveBeenCalledTimes(1);
  });
});

describe('chooseRoutes', () => {
  it('fans out: every matching route, in the order of the source', () => {
    const routing = stripeRouting();
    expect(indexes(routing, INVOICE_PAID)).toEqual([0, 1, 2, 3]);
    expect(indexes(routing, INVOICE_FAILED)).toEqual([0, 3]);
    expect(indexes(routing, CUSTOMER)).toEqual([3]);
    const choice = chooseRoutes(routing, INVOICE_FAILED);
    expect(choice.routes.map((taken) => taken.route.queue)).toEqual(['billing', 'archive']);
    expect(choice).not.toHaveProperty('fallback');
  });

  it('with first: true, takes only the first matching route (a switch)', () => {
    const routing = stripeRouting({ first: true });
    expect(indexes(routing, INVOICE_PAID)).toEqual([0]);
    expect(indexes(routing, CUSTOMER)).toEqual([3]);
    const reordered: Routing = { ...routing, routes: [routing.routes![1]!, routing.routes![0]!] };
    expect(indexes(reordered, INVOICE_PAID)).toEqual([0]);
    expect(chooseRoutes(reordered, INVOICE_PAID).routes[0]!.route.name).toBe('ledger');
    expect(chooseRoutes(reordered, INVOICE_FAILED).routes[0]!.route.name).toBe('billing');
  });

  it('sends to the fallback only when no route matched', () => {
    const routing = narrowRouting({ fallback: 'other' });
    expect(chooseRoutes(routing, CUSTOMER)).toEqual({ routes: [], fallback: 'other' });
    expect(chooseRoutes(routing, INVOICE_FAILED)).toEqual({ routes: [{ index: 0, route: routing.routes![0] }] });
    expect(chooseRoutes({ ...routing, first: true }, CUSTOMER)).toEqual({ routes: [], fallback: 'other' });
    expect(chooseRoutes({ ...routing, first: true }, INVOICE_PAID).fallback).toBeUndefined();
  });

  it('takes nothing, and no fallback, when nothing matched and there is no fallback', () => {
    expect(chooseRoutes(narrowRouting(), CUSTOMER)).toEqual({ routes: [] });
  });

  it('always takes a route without when, whatever the body', () => {
    const routing: Routing = { routes: [{ queue: 'a' }, { queue: 'b', when: { path: 'body.type', op: 'exists' } }, { queue: 'c' }] };
    expect(indexes(routing, request(Buffer.from('not json')))).toEqual([0, 2]);
    expect(indexes(routing, request(Buffer.alloc(0)))).toEqual([0, 2]);
    expect(indexes(routing, request({ type: 'x' }))).toEqual([0, 1, 2]);
  });

  it('routes a body that is not JSON by its other parts only', () => {
    const routing: Routing = {
      routes: [
        { queue: 'json', when: { path: 'body.type', op: 'ne', value: 'x' } },
        { queue: 'github', when: { path: 'headers.x-github-event', op: 'eq', value: 'push' } },
        { queue: 'not-json', when: { not: { path: 'body', op: 'exists' } } },
      ],
      fallback: 'other',
    };
    const form = request(Buffer.from('a=1'), { headers: [['X-GitHub-Event', 'push']] });
    expect(indexes(routing, form)).toEqual([1, 2]);
    expect(chooseRoutes(routing, request(Buffer.from('a=1'))).routes.map((taken) => taken.route.queue)).toEqual(['not-json']);
  });

  it('takes no route of a source that names one queue', () => {
    expect(chooseRoutes({ queue: 'only' }, INVOICE_PAID)).toEqual({ routes: [] });
  });
});

describe('explainRouting', () => {
  it('shows every route, matched and selected, and the targets in order', () => {
    const explanation = explainRouting(stripeRouting(), INVOICE_FAILED);
    expect(explanation.first).toBe(false);
    expect(explanation.routes.map(({ index, name, matched, selected }) => ({ index, name, matched, selected }))).toEqual([
      { index: 0, name: 'billing', matched: true, selected: true },
      { index: 1, name: 'ledger', matched: false, selected: false },
      { index: 2, name: '2', matched: false, selected: false },
      { index: 3, name: 'archive', matched: true, selected: true },
    ]);
    expect(explanation.targets).toEqual([
      { route: 'billing', queue: 'billing' },
      { route: 'archive', queue: 'archive' },
    ]);
    expect(explanation).not.toHaveProperty('fallback');
  });

  it('under first, marks every route that matched but selects only the first', () => {
    const explanation = explainRouting(stripeRouting({ first: true }), INVOICE_PAID);
    expect(explanation.first).toBe(true);
    expect(explanation.routes.map((route) => [route.matched, route.selected])).toEqual([
      [true, true],
      [true, false],
      [true, false],
      [true, false],
    ]);
    expect(explanation.targets).toEqual([{ route: 'billing', queue: 'billing' }]);
  });

  it('names a workflow target, and a route without when has no why', () => {
    const explanation = explainRouting(stripeRouting(), INVOICE_PAID);
    expect(explanation.targets).toEqual([
      { route: 'billing', queue: 'billing' },
      { route: 'ledger', queue: 'ledger' },
      { route: '2', workflow: 'euro-invoices' },
      { route: 'archive', queue: 'archive' },
    ]);
    expect(explanation.routes[2]).toMatchObject({ workflow: 'euro-invoices', queue: undefined });
    expect(explanation.routes[3]).not.toHaveProperty('why');
  });

  it('explains each leaf with what it read: actual, missing, unreadable', () => {
    const routing: Routing = {
      routes: [
        {
          name: 'checks',
          queue: 'q',
          when: {
            all: [
              { path: 'body.type', op: 'prefix', value: 'invoice.' },
              { path: 'body.data.object.refunded', op: 'ne', value: true },
              { path: 'headers.Stripe-Signature', op: 'exists' },
            ],
          },
        },
      ],
    };
    const why = explainRouting(routing, INVOICE_PAID).routes[0]!.why!;
    expect(why.result).toBe(false);
    expect(why.parts).toEqual([
      { result: true, path: 'body.type', op: 'prefix', value: 'invoice.', actual: 'invoice.paid' },
      { result: true, path: 'body.data.object.refunded', op: 'ne', value: true, missing: true },
      { result: false, path: 'headers.Stripe-Signature', op: 'exists', missing: true },
    ]);
    const text = explainRouting(routing, request(Buffer.from('<xml/>'), { headers: [['stripe-signature', 't=1,v1=ab']] })).routes[0]!.why!;
    expect(text.parts).toEqual([
      { result: false, path: 'body.type', op: 'prefix', value: 'invoice.', unreadable: true },
      { result: false, path: 'body.data.object.refunded', op: 'ne', value: true, unreadable: true },
      { result: true, path: 'headers.Stripe-Signature', op: 'exists', actual: 't=1,v1=ab' },
    ]);
  });

  it('shortens long values it read, so a dry run never echoes a whole body', () => {
    const routing: Routing = { routes: [{ queue: 'q', when: { any: [{ path: 'body.note', op: 'eq', value: 'x' }, { path: 'body.data', op: 'exists' }] } }] };
    const on = request({ note: 'n'.repeat(10_000), data: { rows: Array.from({ length: 1_000 }, (_, i) => ({ i })) } });
    const [note, data] = explainRouting(routing, on).routes[0]!.why!.parts!;
    expect(note!.actual).toBe(`${'n'.repeat(200)}…`);
    expect(typeof data!.actual).toBe('string');
    expect((data!.actual as string).length).toBe(201);
    expect(JSON.stringify(explainRouting(routing, on)).length).toBeLessThan(1_000);
  });

  it('lists the fallback as the target when nothing matched', () => {
    const explanation = explainRouting(narrowRouting({ fallback: 'other' }), CUSTOMER);
    expect(explanation.routes.every((route) => !route.matched && !route.selected)).toBe(true);
    expect(explanation.fallback).toBe('other');
    expect(explanation.targets).toEqual([{ queue: 'other', fallback: true }]);
    const matched = explainRouting(narrowRouting({ fallback: 'other' }), INVOICE_FAILED);
    expect(matched).not.toHaveProperty('fallback');
    expect(matched.targets).toEqual([{ route: 'billing', queue: 'billing' }]);
  });

  it('lists no target when nothing matched and there is no fallback', () => {
    expect(explainRouting(narrowRouting(), CUSTOMER).targets).toEqual([]);
  });

  it('explains a source that names one queue as that queue', () => {
    expect(explainRouting({ queue: 'only' }, INVOICE_PAID)).toEqual({ routes: [], first: false, targets: [{ queue: 'only' }] });
  });

  it('selects the same routes as chooseRoutes', () => {
    for (const routing of [stripeRouting(), stripeRouting({ first: true }), narrowRouting({ fallback: 'f' }), narrowRouting({ first: true, fallback: 'f' })]) {
      for (const on of [INVOICE_PAID, INVOICE_FAILED, CUSTOMER, request(Buffer.from('x'))]) {
        const chosen = chooseRoutes(routing, on);
        const explained = explainRouting(routing, on);
        expect(explained.routes.filter((route) => route.selected).map((route) => route.index)).toEqual(chosen.routes.map((taken) => taken.index));
        expect(explained.fallback).toBe(chosen.fallback);
      }
    }
  });
});

describe('routedQueues and routeLabel', () => {
  it('lists each queue a source may send to once, fallback included, workflows not', () => {
    expect(routedQueues({ queue: 'one' })).toEqual(['one']);
    expect(routedQueues({ routes: [{ queue: 'a' }, { workflow: 'w' }, { queue: 'b' }, { queue: 'a' }], fallback: 'b' })).toEqual(['a', 'b']);
    expect(routedQueues({ routes: [{ queue: 'a' }], fallback: 'z' })).toEqual(['a', 'z']);
  });

  it('labels a route by its name, else its index', () => {
    expect(routeLabel({ name: 'billing', queue: 'b' }, 0)).toBe('billing');
    expect(routeLabel({ queue: 'b' }, 3)).toBe('3');
  });
});

describe('validation of routes and sources', () => {
  /** The issues of a refused source, each as its path and message. */
  function issues(source: unknown): { path: PropertyKey[]; message: string }[] {
    const result = sourceConfigSchema.safeParse(source);
    expect(result.success, JSON.stringify(source)).toBe(false);
    return result.error!.issues.map((issue) => ({ path: issue.path, message: issue.message }));
  }

  const paths = (source: unknown) => issues(source).map((issue) => issue.path);

  it('takes a source with routes, first and fallback, and one with a queue', () => {
    expect(sourceConfigSchema.safeParse({ queue: 'q' }).success).toBe(true);
    const source = { routes: [{ name: 'r', queue: 'a', when: { path: 'body.type', op: 'eq', value: 'x' } }, { workflow: 'w' }], first: true, fallback: 'f' };
    expect(sourceConfigSchema.parse(source)).toMatchObject(source);
  });

  it('names the field of a condition deep inside a route', () => {
    const found = issues({
      routes: [
        { queue: 'a', when: { path: 'body.type', op: 'exists' } },
        { queue: 'b', when: { all: [{ path: 'body.type', op: 'exists' }, { path: 'headers.x', op: 'eq' }] } },
      ],
    });
    expect(found).toEqual([{ path: ['routes', 1, 'when', 'all', 1, 'value'], message: '"eq" needs a value' }]);
    expect(paths({ routes: [{ queue: 'a', when: { all: [{ path: 'body.a', op: 'exists' }, { path: 'body.b', op: 'eq' }] } }] })).toEqual([['routes', 0, 'when', 'all', 1, 'value']]);
  });

  it.each([
    ['an unknown root', { path: 'payload.type', op: 'eq', value: 'x' }, ['routes', 0, 'when', 'path']],
    ['an op without its value', { path: 'body.type', op: 'in' }, ['routes', 0, 'when', 'value']],
    ['exists with a value', { path: 'body.type', op: 'exists', value: 'x' }, ['routes', 0, 'when', 'value']],
    ['in with a non-array', { path: 'body.type', op: 'in', value: 'x' }, ['routes', 0, 'when', 'value']],
    ['an unknown field', { path: 'body.type', op: 'exists', regex: '.*' }, ['routes', 0, 'when', 'regex']],
    ['all beside path', { all: [{ path: 'body.type', op: 'exists' }], path: 'body.type' }, ['routes', 0, 'when', 'path']],
    ['an empty all', { all: [] }, ['routes', 0, 'when', 'all']],
    ['not of a list', { not: [] }, ['routes', 0, 'when', 'not']],
  ])('refuses a when with %s at %j', (_name, when, path) => {
    expect(paths({ routes: [{ queue: 'a', when }] })).toEqual([path]);
  });

  it('refuses a when nested too deep, or with too many leaves, at the when', () => {
    let deep: unknown = { path: 'body.a', op: 'exists' };
    for (let i = 0; i < 9; i += 1) deep = { any: [deep] };
    expect(paths({ routes: [{ queue: 'a', when: deep }] })).toEqual([['routes', 0, 'when', ...Array.from({ length: 9 }, () => ['any', 0]).flat()]]);
    const wide = { all: Array.from({ length: 65 }, (_, i) => ({ path: `body.f${i}`, op: 'exists' })) };
    expect(issues({ routes: [{ queue: 'a' }, { queue: 'b', when: wide }] })).toEqual([{ path: ['routes', 1, 'when'], message: 'at most 64 conditions in one' }]);
  });

  it('refuses a route with both a queue and a workflow, or neither', () => {
    expect(issues({ routes: [{ queue: 'a', workflow: 'w' }] })).toEqual([{ path: ['routes', 0, 'queue'], message: 'a route names either a queue or a workflow' }]);
    expect(issues({ routes: [{ queue: 'a' }, { when: { path: 'method', op: 'eq', value: 'POST' } }] })).toEqual([
      { path: ['routes', 1, 'queue'], message: 'a route names either a queue or a workflow' },
    ]);
  });

  it('refuses unknown fields of a route, and bad names', () => {
    const unknown = sourceConfigSchema.safeParse({ routes: [{ queue: 'a', filter: {} }] });
    expect(unknown.error?.issues).toEqual([expect.objectContaining({ code: 'unrecognized_keys', keys: ['filter'], path: ['routes', 0] })]);
    expect(paths({ routes: [{ queue: 'a b' }] })).toEqual([['routes', 0, 'queue']]);
    expect(paths({ routes: [{ name: '-x', queue: 'a' }] })).toEqual([['routes', 0, 'name']]);
    expect(paths({ routes: [{ workflow: '', queue: undefined }] })).toContainEqual(['routes', 0, 'workflow']);
  });

  it('refuses a route name that reads as another route index, which labels an unnamed route', () => {
    expect(paths({ routes: [{ name: '1', queue: 'a' }, { queue: 'b' }] })).toEqual([['routes', 0, 'name']]);
    expect(routeSchema.safeParse({ name: '007', queue: 'a' }).success).toBe(false);
    expect(routeSchema.safeParse({ name: 'v1', queue: 'a' }).success).toBe(true);
  });

  it('refuses a source with both a queue and routes, or neither', () => {
    expect(issues({ queue: 'q', routes: [{ queue: 'a' }] })).toEqual([{ path: ['queue'], message: 'a source names either one queue, one workflow or routes' }]);
    expect(issues({})).toEqual([{ path: ['queue'], message: 'a source names either one queue, one workflow or routes' }]);
    expect(issues({ fallback: 'f' })).toContainEqual({ path: ['queue'], message: 'a source names either one queue, one workflow or routes' });
  });

  it('refuses first and fallback without routes', () => {
    expect(issues({ queue: 'q', first: true })).toEqual([{ path: ['first'], message: 'only a source with routes has it' }]);
    expect(issues({ queue: 'q', first: false, fallback: 'f' })).toEqual([
      { path: ['first'], message: 'only a source with routes has it' },
      { path: ['fallback'], message: 'only a source with routes has it' },
    ]);
  });

  it('refuses two routes of one name, at the second', () => {
    expect(issues({ routes: [{ name: 'r', queue: 'a' }, { name: 's', queue: 'b' }, { name: 'r', queue: 'c' }] })).toEqual([
      { path: ['routes', 2, 'name'], message: 'two routes are named r' },
    ]);
  });

  it(`holds 1-${MAX_ROUTES} routes`, () => {
    expect(paths({ routes: [] })).toEqual([['routes']]);
    expect(sourceConfigSchema.safeParse({ routes: Array.from({ length: MAX_ROUTES }, () => ({ queue: 'a' })) }).success).toBe(true);
    expect(paths({ routes: Array.from({ length: MAX_ROUTES + 1 }, () => ({ queue: 'a' })) })).toEqual([['routes']]);
  });

  it('refuses first and fallback of the wrong type', () => {
    expect(paths({ routes: [{ queue: 'a' }], first: 'yes' })).toEqual([['first']]);
    expect(paths({ routes: [{ queue: 'a' }], fallback: 'no such/queue' })).toEqual([['fallback']]);
  });
});
