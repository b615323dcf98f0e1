import { describe, expect, it } from 'vitest';
import {
  conditionSchema,
  evaluate,
  explain,
  MAX_CONDITION_DEPTH,
  MAX_CONDITION_LEAVES,
  MAX_IN_VALUES,
  readJsonPath,
  UNREADABLE,
  type Condition,
  type JsonValue,
} from '../../src/routing/conditions.js';
import { requestResolver, ROUTE_ROOTS, type RoutedRequest } from '../../src/routing/routes.js';

/** The condition language read through a real ingested request (routing's resolver). */
const BODY = {
  type: 'invoice.paid',
  amount: 1200,
  ratio: 0.5,
  live: true,
  deleted: false,
  note: null,
  empty: '',
  zero: 0,
  created: '2026-12-04T10:00:00Z',
  items: [
    { id: 'it_1', qty: 2 },
    { id: 'it_2', qty: 1 },
  ],
  meta: { tier: 'gold', tags: ['a', 'b'] },
  emptyList: [],
  emptyObject: {},
  '0': 'zero key',
};

function request(overrides: Partial<RoutedRequest> = {}): RoutedRequest {
  return {
    method: 'POST',
    path: '/orders/42',
    query: 'a=1&b=x&b=y&tag=gold%20star&empty=',
    headers: [
      ['Content-Type', 'application/json'],
      ['X-GitHub-Event', 'push'],
      ['X-Retry', '3'],
      ['Accept', 'text/html'],
      ['accept', 'application/json'],
    ],
    body: Buffer.from(JSON.stringify(BODY)),
    ...overrides,
  };
}

const REQUEST = request();

function holds(condition: Condition, on: RoutedRequest = REQUEST): boolean {
  return evaluate(condition, requestResolver(on));
}

function leaf(path: string, op: string, ...value: [] | [unknown]): Condition {
  return (value.length === 0 ? { path, op } : { path, op, value: value[0] }) as Condition;
}

type Row = [path: string, op: string, value: unknown, expected: boolean];

describe('every op on JSON body values of each type', () => {
  const rows: Row[] = [
    // eq: same type and value; objects and arrays member by member, in any key order
    ['body.type', 'eq', 'invoice.paid', true],
    ['body.type', 'eq', 'invoice', false],
    ['body.amount', 'eq', 1200, true],
    ['body.amount', 'eq', '1200', false],
    ['body.ratio', 'eq', 0.5, true],
    ['body.live', 'eq', true, true],
    ['body.live', 'eq', 'true', false],
    ['body.live', 'eq', 1, false],
    ['body.deleted', 'eq', false, true],
    ['body.zero', 'eq', false, false],
    ['body.empty', 'eq', null, false],
    ['body.note', 'eq', null, true],
    ['body.missing', 'eq', null, false],
    ['body.meta', 'eq', { tier: 'gold', tags: ['a', 'b'] }, true],
    ['body.meta', 'eq', { tags: ['a', 'b'], tier: 'gold' }, true],
    ['body.meta', 'eq', { tier: 'gold', tags: ['b', 'a'] }, false],
    ['body.meta', 'eq', { tier: 'gold' }, false],
    ['body.meta', 'eq', { tier: 'gold', tags: ['a', 'b'], extra: 1 }, false],
    ['body.meta', 'eq', { tier: 'gold', tags: ['a', 'b'], other: undefined }, false],
    ['body.items', 'eq', [{ qty: 2, id: 'it_1' }, { id: 'it_2', qty: 1 }], true],
    ['body.meta.tags', 'eq', ['a', 'b'], true],
    ['body.meta.tags', 'eq', ['a'], false],
    ['body.meta.tags', 'eq', { '0': 'a', '1': 'b' }, false],
    ['body.emptyList', 'eq', [], true],
    ['body.emptyList', 'eq', {}, false],
    ['body.emptyObject', 'eq', {}, true],
    ['body.emptyObject', 'eq', null, false],
    // ne: the opposite of eq, and true where the path names nothing
    ['body.type', 'ne', 'invoice.paid', false],
    ['body.type', 'ne', 'charge.failed', true],
    ['body.amount', 'ne', '1200', true],
    ['body.meta', 'ne', { tags: ['a', 'b'], tier: 'gold' }, false],
    ['body.note', 'ne', null, false],
    ['body.missing', 'ne', 'anything', true],
    ['body.missing.deeper', 'ne', null, true],
    // in: eq against any of the list
    ['body.type', 'in', ['charge.failed', 'invoice.paid'], true],
    ['body.type', 'in', ['charge.failed'], false],
    ['body.amount', 'in', [1, 1200], true],
    ['body.amount', 'in', ['1200'], false],
    ['body.live', 'in', [true], true],
    ['body.note', 'in', [null], true],
    ['body.missing', 'in', [null], false],
    ['body.meta.tags', 'in', ['a', ['a', 'b']], true],
    ['body.meta', 'in', [{ tier: 'gold', tags: ['a', 'b'] }], true],
    // exists: named at all, null and '' included
    ['body.type', 'exists', undefined, true],
    ['body.note', 'exists', undefined, true],
    ['body.empty', 'exists', undefined, true],
    ['body.emptyObject', 'exists', undefined, true],
    ['body.missing', 'exists', undefined, false],
    ['body.type.length', 'exists', undefined, false],
    ['body', 'exists', undefined, true],
    // prefix: strings only
    ['body.type', 'prefix', 'invoice.', true],
    ['body.type', 'prefix', 'invoices', false],
    ['body.type', 'prefix', '', true],
    ['body.type', 'prefix', 'Invoice', false],
    ['body.amount', 'prefix', '12', false],
    ['body.meta.tags', 'prefix', 'a', false],
    ['body.missing', 'prefix', '', false],
    // ordering: numbers with numbers, strings with strings (code-unit order), nothing else
    ['body.amount', 'gt', 1000, true],
    ['body.amount', 'gt', 1200, false],
    ['body.amount', 'gte', 1200, true],
    ['body.amount', 'lt', 1200, false],
    ['body.amount', 'lte', 1200, true],
    ['body.amount', 'lt', 5000, true],
    ['body.ratio', 'gt', 0.25, true],
    ['body.ratio', 'lte', -1, false],
    ['body.amount', 'gt', '1000', false],
    ['body.amount', 'lt', '5000', false],
    ['body.amount', 'gte', '1200', false],
    ['body.amount', 'lte', '1200', false],
    ['body.created', 'gt', '2026-01-01', true],
    ['body.created', 'lt', '2026-12-04T11:00:00Z', true],
    ['body.created', 'gte', '2026-12-04T10:00:00Z', true],
    ['body.created', 'lte', '2026', false],
    ['body.type', 'gt', 'Invoice', true],
    ['body.type', 'gt', 1, false],
    ['body.type', 'lt', 1, false],
    ['body.live', 'gt', 0, false],
    ['body.live', 'gte', 'a', false],
    ['body.note', 'lt', 1, false],
    ['body.note', 'gte', '', false],
    ['body.meta', 'gt', 'a', false],
    ['body.items', 'lt', 1, false],
    ['body.missing', 'gt', 0, false],
    ['body.missing', 'lte', 'z', false],
  ];
  it.each(rows)('%s %s %j → %s', (path, op, value, expected) => {
    expect(holds(op === 'exists' ? leaf(path, op) : leaf(path, op, value))).toBe(expected);
  });
});

describe('every op on headers (names case-insensitive)', () => {
  const rows: Row[] = [
    ['headers.x-github-event', 'eq', 'push', true],
    ['headers.X-GITHUB-EVENT', 'eq', 'push', true],
    ['headers.X-GitHub-Event', 'eq', 'Push', false],
    ['headers.accept', 'eq', 'text/html, application/json', true],
    ['headers.Accept', 'prefix', 'text/html, ', true],
    ['headers.x-retry', 'eq', '3', true],
    ['headers.x-retry', 'eq', 3, false],
    ['headers.x-retry', 'ne', '3', false],
    ['headers.x-retry', 'ne', 3, true],
    ['headers.x-missing', 'ne', 'a', true],
    ['headers.content-type', 'in', ['text/plain', 'application/json'], true],
    ['headers.content-type', 'in', ['application/xml'], false],
    ['headers.CONTENT-TYPE', 'exists', undefined, true],
    ['headers.x-missing', 'exists', undefined, false],
    ['headers.content-type', 'prefix', 'application/', true],
    ['headers.content-type', 'prefix', 'Application/', false],
    ['headers.x-retry', 'gt', '2', true],
    ['headers.x-retry', 'gt', 2, false],
    ['headers.x-retry', 'gte', '3', true],
    ['headers.x-retry', 'lt', '30', true],
    ['headers.x-retry', 'lte', '29', false],
    ['headers', 'exists', undefined, false],
    ['headers.x-retry.more', 'exists', undefined, false],
  ];
  it.each(rows)('%s %s %j → %s', (path, op, value, expected) => {
    expect(holds(op === 'exists' ? leaf(path, op) : leaf(path, op, value))).toBe(expected);
  });

  it('reads a header sent twice as "a, b", in the order sent, whatever the case of each name', () => {
    const twice = request({ headers: [['X-Tag', 'a'], ['x-tag', 'b'], ['X-TAG', 'c']] });
    expect(holds(leaf('headers.x-tag', 'eq', 'a, b, c'), twice)).toBe(true);
    expect(holds(leaf('headers.x-tag', 'eq', 'a'), twice)).toBe(false);
    expect(holds(leaf('headers.x-tag', 'in', ['a', 'b', 'c']), twice)).toBe(false);
  });
});

describe('every op on query parameters', () => {
  const rows: Row[] = [
    ['query.a', 'eq', '1', true],
    ['query.a', 'eq', 1, false],
    ['query.a', 'ne', '2', true],
    ['query.a', 'ne', '1', false],
    ['query.b', 'eq', 'x', true],
    ['query.b', 'eq', 'x, y', false],
    ['query.tag', 'eq', 'gold star', true],
    ['query.empty', 'eq', '', true],
    ['query.empty', 'exists', undefined, true],
    ['query.missing', 'exists', undefined, false],
    ['query.missing', 'ne', 'x', true],
    ['query.A', 'exists', undefined, false],
    ['query.a', 'in', ['1', '2'], true],
    ['query.a', 'in', [1, 2], false],
    ['query.tag', 'prefix', 'gold', true],
    ['query.a', 'gte', '1', true],
    ['query.a', 'lt', '2', true],
    ['query.a', 'gt', '1', false],
    ['query.a', 'lte', 0, false],
    ['query', 'exists', undefined, false],
  ];
  it.each(rows)('%s %s %j → %s', (path, op, value, expected) => {
    expect(holds(op === 'exists' ? leaf(path, op) : leaf(path, op, value))).toBe(expected);
  });
});

describe('every op on path and method', () => {
  const rows: Row[] = [
    ['path', 'eq', '/orders/42', true],
    ['path', 'eq', '/orders', false],
    ['path', 'ne', '/', true],
    ['path', 'in', ['/', '/orders/42'], true],
    ['path', 'exists', undefined, true],
    ['path', 'prefix', '/orders/', true],
    ['path', 'prefix', '/users/', false],
    ['path', 'gt', '/a', true],
    ['path', 'gte', '/orders/42', true],
    ['path', 'lt', '/orders/5', true],
    ['path', 'lte', '/orders/4', false],
    ['path.orders', 'exists', undefined, false],
    ['method', 'eq', 'POST', true],
    ['method', 'eq', 'post', false],
    ['method', 'ne', 'GET', true],
    ['method', 'in', ['PUT', 'PATCH'], false],
    ['method', 'in', ['POST', 'PUT'], true],
    ['method', 'exists', undefined, true],
    ['method', 'prefix', 'PO', true],
    ['method', 'gt', 'PATCH', true],
    ['method', 'gte', 'PUT', false],
    ['method', 'lt', 'PUT', true],
    ['method', 'lte', 'POST', true],
    ['method.length', 'exists', undefined, false],
  ];
  it.each(rows)('%s %s %j → %s', (path, op, value, expected) => {
    expect(holds(op === 'exists' ? leaf(path, op) : leaf(path, op, value))).toBe(expected);
  });

  it('reads "/" for a request without a sub-path', () => {
    expect(holds(leaf('path', 'eq', '/'), request({ path: '/' }))).toBe(true);
  });
});

describe('combinators', () => {
  const yes = leaf('body.type', 'eq', 'invoice.paid');
  const no = leaf('body.type', 'eq', 'charge.failed');

  it.each([
    ['all of true ones', { all: [yes, yes] }, true],
    ['all with one false', { all: [yes, no] }, false],
    ['all of one', { all: [yes] }, true],
    ['any with one true', { any: [no, yes] }, true],
    ['any of false ones', { any: [no, no] }, false],
    ['not of true', { not: yes }, false],
    ['not of false', { not: no }, true],
    ['not not', { not: { not: yes } }, true],
    ['all of any and not', { all: [{ any: [no, yes] }, { not: no }] }, true],
    ['any of all and not', { any: [{ all: [yes, no] }, { not: yes }] }, false],
    [
      'deep mix of roots',
      {
        all: [
          { any: [leaf('headers.x-github-event', 'in', ['push', 'pull_request']), leaf('query.force', 'exists')] },
          { not: { all: [leaf('method', 'eq', 'GET'), yes] } },
          { any: [{ not: leaf('body.items.0.qty', 'lt', 2) }, no] },
        ],
      },
      true,
    ],
  ] as [string, Condition, boolean][])('%s', (_name, condition, expected) => {
    expect(holds(condition)).toBe(expected);
  });

  it('stops at the first deciding part (evaluate), but explain reads every part', () => {
    const seen: string[] = [];
    const resolve = (segments: readonly string[]) => {
      const path = segments.join('.');
      seen.push(path);
      return path === 'query.a' ? 'x' : undefined;
    };
    const condition: Condition = { any: [leaf('query.a', 'eq', 'x'), leaf('query.b', 'exists')] };
    expect(evaluate(condition, resolve)).toBe(true);
    expect(seen).toEqual(['query.a']);
    seen.length = 0;
    expect(explain(condition, resolve).parts).toHaveLength(2);
    expect(seen).toEqual(['query.a', 'query.b']);
  });
});

describe('a body that is not JSON, or empty', () => {
  const leaves: Condition[] = [
    leaf('body', 'exists'),
    leaf('body.type', 'exists'),
    leaf('body.type', 'ne', 'invoice.paid'),
    leaf('body', 'ne', 'x'),
    leaf('body.type', 'eq', 'invoice.paid'),
    leaf('body.type', 'in', ['invoice.paid']),
    leaf('body.type', 'prefix', ''),
    leaf('body.amount', 'gt', 0),
    leaf('body.amount', 'gte', 0),
    leaf('body.amount', 'lt', 1e9),
    leaf('body.amount', 'lte', 1e9),
  ];
  const bodies: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['plain text', Buffer.from('type=invoice.paid&amount=1200')],
    ['truncated JSON', Buffer.from('{"type":"invoice.paid",')],
    ['whitespace only', Buffer.from('   \n')],
    ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
    ['a JavaScript literal that is not JSON', Buffer.from('undefined')],
  ];

  it.each(bodies)('%s: every body.* leaf is false, ne and exists included', (_name, body) => {
    const on = request({ body });
    for (const condition of leaves) expect(holds(condition, on), JSON.stringify(condition)).toBe(false);
  });

  it('leaves headers, query, path and method readable', () => {
    const on = request({ body: Buffer.from('not json') });
    expect(holds(leaf('headers.x-github-event', 'eq', 'push'), on)).toBe(true);
    expect(holds(leaf('query.a', 'eq', '1'), on)).toBe(true);
    expect(holds(leaf('path', 'prefix', '/orders'), on)).toBe(true);
    expect(holds(leaf('method', 'eq', 'POST'), on)).toBe(true);
  });

  it('is false in a leaf, so not {…} of such a leaf holds', () => {
    const on = request({ body: Buffer.from('not json') });
    expect(holds({ not: leaf('body.type', 'eq', 'invoice.paid') }, on)).toBe(true);
    expect(holds({ any: [leaf('body.type', 'ne', 'x'), leaf('method', 'eq', 'POST')] }, on)).toBe(true);
  });

  it('is not the case of JSON that is not an object: those read as values, and below them as missing', () => {
    expect(holds(leaf('body', 'eq', 'text'), request({ body: Buffer.from('"text"') }))).toBe(true);
    expect(holds(leaf('body', 'gt', 41), request({ body: Buffer.from(' 42 ') }))).toBe(true);
    const nullBody = request({ body: Buffer.from('null') });
    expect(holds(leaf('body', 'eq', null), nullBody)).toBe(true);
    expect(holds(leaf('body.type', 'exists'), nullBody)).toBe(false);
    expect(holds(leaf('body.type', 'ne', 'x'), nullBody)).toBe(true);
  });
});

describe('paths into the JSON body', () => {
  it.each([
    ['body.items.0.id', 'it_1'],
    ['body.items.1.qty', 1],
    ['body.meta.tags.1', 'b'],
    ['body.0', 'zero key'],
  ] as [string, JsonValue][])('%s reads %j', (path, value) => {
    expect(holds(leaf(path, 'eq', value))).toBe(true);
  });

  it.each(['body.items.2.id', 'body.items.01.id', 'body.items.-1', 'body.items.1e0', 'body.items. 0', 'body.items.length', 'body.items.0.id.0'])(
    '%s names nothing',
    (path) => {
      expect(holds(leaf(path, 'exists'))).toBe(false);
      expect(holds(leaf(path, 'ne', null))).toBe(true);
    },
  );

  it('reads array items of a body that is an array', () => {
    const on = request({ body: Buffer.from('[{"id":7},{"id":8}]') });
    expect(holds(leaf('body.1.id', 'eq', 8), on)).toBe(true);
    expect(holds(leaf('body.2', 'exists'), on)).toBe(false);
  });

  it.each([
    'body.__proto__',
    'body.constructor',
    'body.toString',
    'body.hasOwnProperty',
    'body.type.constructor',
    'body.items.constructor',
    'body.meta.__proto__.constructor',
    'headers.__proto__',
    'headers.constructor',
    'query.__proto__',
    'query.constructor',
  ])('%s names nothing unless the JSON has it', (path) => {
    expect(holds(leaf(path, 'exists'))).toBe(false);
    expect(holds(leaf(path, 'ne', 'x'))).toBe(true);
  });

  it('reads __proto__ and constructor where the JSON has them, and pollutes nothing', () => {
    const on = request({ body: Buffer.from('{"__proto__":{"polluted":true},"constructor":"c"}') });
    expect(holds(leaf('body.__proto__.polluted', 'eq', true), on)).toBe(true);
    expect(holds(leaf('body.__proto__', 'eq', { polluted: true }), on)).toBe(true);
    expect(holds(leaf('body.constructor', 'eq', 'c'), on)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('readJsonPath reads own members and decimal indexes from a given segment on', () => {
    const value = JSON.parse('{"a":{"b":[10,20]},"__proto__":1}') as JsonValue;
    expect(readJsonPath(value, ['body', 'a', 'b', '1'], 1)).toBe(20);
    expect(readJsonPath(value, ['a'])).toEqual({ b: [10, 20] });
    expect(readJsonPath(value, [])).toBe(value);
    expect(readJsonPath(value, ['__proto__'])).toBe(1);
    expect(readJsonPath({ a: 1 }, ['__proto__'])).toBeUndefined();
    expect(readJsonPath(undefined, ['a'])).toBeUndefined();
    expect(readJsonPath('text', ['length'])).toBeUndefined();
    expect(readJsonPath([1], ['1234567890'])).toBeUndefined();
  });
});

describe('explain', () => {
  const resolve = requestResolver(REQUEST);

  it('gives a leaf the value it read', () => {
    expect(explain(leaf('body.amount', 'gt', 1000), resolve)).toEqual({ result: true, path: 'body.amount', op: 'gt', value: 1000, actual: 1200 });
    expect(explain(leaf('body.meta', 'exists'), resolve)).toEqual({ result: true, path: 'body.meta', op: 'exists', actual: { tier: 'gold', tags: ['a', 'b'] } });
    expect(explain(leaf('body.note', 'eq', null), resolve)).toEqual({ result: true, path: 'body.note', op: 'eq', value: null, actual: null });
  });

  it('marks a path that names nothing as missing, and one below a body that is not JSON as unreadable', () => {
    expect(explain(leaf('body.missing', 'ne', 1), resolve)).toEqual({ result: true, path: 'body.missing', op: 'ne', value: 1, missing: true });
    const text = requestResolver(request({ body: Buffer.from('plain') }));
    expect(explain(leaf('body.type', 'ne', 1), text)).toEqual({ result: false, path: 'body.type', op: 'ne', value: 1, unreadable: true });
  });

  it('shortens long strings and long objects, keeps short ones', () => {
    const long = 'x'.repeat(500);
    const on = requestResolver(request({ body: Buffer.from(JSON.stringify({ long, big: { list: Array.from({ length: 100 }, (_, i) => i) }, exact: 'y'.repeat(200) })) }));
    const text = explain(leaf('body.long', 'prefix', 'x'), on);
    expect(text.actual).toBe(`${'x'.repeat(200)}…`);
    const big = explain(leaf('body.big', 'exists'), on);
    expect(typeof big.actual).toBe('string');
    expect(big.actual).toBe(`${JSON.stringify({ list: Array.from({ length: 100 }, (_, i) => i) }).slice(0, 200)}…`);
    expect(explain(leaf('body.exact', 'exists'), on).actual).toBe('y'.repeat(200));
  });

  it('explains combinators with every part and its result', () => {
    const why = explain({ all: [leaf('method', 'eq', 'POST'), { not: leaf('headers.x-retry', 'eq', '3') }, { any: [leaf('query.a', 'eq', '1')] }] }, resolve);
    expect(why).toEqual({
      combinator: 'all',
      result: false,
      parts: [
        { result: true, path: 'method', op: 'eq', value: 'POST', actual: 'POST' },
        { combinator: 'not', result: false, parts: [{ result: true, path: 'headers.x-retry', op: 'eq', value: '3', actual: '3' }] },
        { combinator: 'any', result: true, parts: [{ result: true, path: 'query.a', op: 'eq', value: '1', actual: '1' }] },
      ],
    });
  });

  it('agrees with evaluate', () => {
    const conditions: Condition[] = [
      { all: [leaf('body.type', 'prefix', 'invoice.'), leaf('body.amount', 'gte', 100)] },
      { any: [leaf('body.missing', 'exists'), { not: leaf('path', 'eq', '/') }] },
      { not: { any: [leaf('headers.accept', 'in', ['a']), leaf('body.live', 'ne', true)] } },
    ];
    for (const condition of conditions) expect(explain(condition, resolve).result).toBe(evaluate(condition, resolve));
  });

  it('knows UNREADABLE from a resolver that returns it', () => {
    expect(evaluate(leaf('body.x', 'exists'), () => UNREADABLE)).toBe(false);
    expect(evaluate({ not: leaf('body.x', 'exists') }, () => UNREADABLE)).toBe(true);
  });
});

describe('conditionSchema', () => {
  const schema = conditionSchema(ROUTE_ROOTS);

  /** The issues of a refused condition, each as its path and message. */
  function issues(value: unknown): { path: PropertyKey[]; message: string }[] {
    const result = schema.safeParse(value);
    expect(result.success, JSON.stringify(value)).toBe(false);
    return result.error!.issues.map((issue) => ({ path: issue.path, message: issue.message }));
  }

  function nested(depth: number): unknown {
    let condition: unknown = { path: 'body.type', op: 'exists' };
    for (let i = 0; i < depth; i += 1) condition = { not: condition };
    return condition;
  }

  it.each([
    ['a leaf of each root', { all: ROUTE_ROOTS.map((root) => ({ path: root === 'path' || root === 'method' ? root : `${root}.x`, op: 'exists' })) }],
    ['eq with null', { path: 'body.note', op: 'eq', value: null }],
    ['eq with an object', { path: 'body.meta', op: 'eq', value: { tier: 'gold', tags: ['a'] } }],
    ['in with mixed values', { path: 'body.type', op: 'in', value: ['a', 1, null, { b: 2 }] }],
    ['prefix with an empty string', { path: 'path', op: 'prefix', value: '' }],
    ['gt with a number, lte with a string', { any: [{ path: 'body.a', op: 'gt', value: 1 }, { path: 'body.b', op: 'lte', value: '2026' }] }],
    ['the deepest nesting', nested(MAX_CONDITION_DEPTH)],
    ['the most leaves', { all: Array.from({ length: MAX_CONDITION_LEAVES }, () => ({ path: 'body.a', op: 'exists' })) }],
    ['the longest in list', { path: 'body.a', op: 'in', value: Array.from({ length: MAX_IN_VALUES }, (_, i) => i) }],
    ['16 segments', { path: `body.${Array.from({ length: 15 }, () => 'a').join('.')}`, op: 'exists' }],
  ])('takes %s, unchanged', (_name, value) => {
    const result = schema.safeParse(value);
    expect(result.error?.issues).toBeUndefined();
    expect(result.data).toEqual(value);
  });

  it.each([
    ['an unknown root', { path: 'bdy.type', op: 'eq', value: 1 }, ['path'], /unknown root "bdy"/],
    ['a root named by case', { path: 'Body.type', op: 'exists' }, ['path'], /unknown root "Body"/],
    ['a path that is not a string', { path: 3, op: 'exists' }, ['path'], /path of 1-256 characters/],
    ['an empty path', { path: '', op: 'exists' }, ['path'], /path of 1-256/],
    ['a path too long', { path: `body.${'a'.repeat(252)}`, op: 'exists' }, ['path'], /path of 1-256/],
    ['a path with an empty segment', { path: 'body..type', op: 'exists' }, ['path'], /empty segment/],
    ['a path ending in a dot', { path: 'body.', op: 'exists' }, ['path'], /empty segment/],
    ['17 segments', { path: `body.${Array.from({ length: 16 }, () => 'a').join('.')}`, op: 'exists' }, ['path'], /at most 16 segments/],
    ['an unknown op', { path: 'body.a', op: 'contains', value: 'x' }, ['op'], /must be one of eq, ne, in, exists, prefix, gt, gte, lt, lte/],
    ['no op', { path: 'body.a', value: 'x' }, ['op'], /must be one of/],
    ['eq without a value', { path: 'body.a', op: 'eq' }, ['value'], /"eq" needs a value/],
    ['ne without a value', { path: 'body.a', op: 'ne' }, ['value'], /"ne" needs a value/],
    ['in without a value', { path: 'body.a', op: 'in' }, ['value'], /"in" needs a value/],
    ['prefix without a value', { path: 'body.a', op: 'prefix' }, ['value'], /"prefix" needs a value/],
    ['gt without a value', { path: 'body.a', op: 'gt' }, ['value'], /"gt" needs a value/],
    ['gte without a value', { path: 'body.a', op: 'gte' }, ['value'], /"gte" needs a value/],
    ['lt without a value', { path: 'body.a', op: 'lt' }, ['value'], /"lt" needs a value/],
    ['lte without a value', { path: 'body.a', op: 'lte' }, ['value'], /"lte" needs a value/],
    ['exists with a value', { path: 'body.a', op: 'exists', value: true }, ['value'], /"exists" takes no value/],
    ['exists with null', { path: 'body.a', op: 'exists', value: null }, ['value'], /"exists" takes no value/],
    ['in with a string', { path: 'body.a', op: 'in', value: 'a' }, ['value'], /"in" needs an array of 1-256 values/],
    ['in with an object', { path: 'body.a', op: 'in', value: { a: 1 } }, ['value'], /"in" needs an array/],
    ['in with an empty array', { path: 'body.a', op: 'in', value: [] }, ['value'], /"in" needs an array/],
    ['in with too many values', { path: 'body.a', op: 'in', value: Array.from({ length: MAX_IN_VALUES + 1 }, (_, i) => i) }, ['value'], /"in" needs an array/],
    ['prefix with a number', { path: 'body.a', op: 'prefix', value: 1 }, ['value'], /"prefix" needs a string/],
    ['gt with a boolean', { path: 'body.a', op: 'gt', value: true }, ['value'], /"gt" needs a number or a string/],
    ['lte with null', { path: 'body.a', op: 'lte', value: null }, ['value'], /"lte" needs a number or a string/],
    ['lt with an array', { path: 'body.a', op: 'lt', value: [1] }, ['value'], /"lt" needs a number or a string/],
    ['an unknown field', { path: 'body.a', op: 'exists', when: 1 }, ['when'], /unknown field/],
    ['all beside path', { all: [{ path: 'body.a', op: 'exists' }], path: 'body.b' }, ['path'], /"all" stands alone/],
    ['any beside op', { any: [{ path: 'body.a', op: 'exists' }], op: 'eq' }, ['op'], /"any" stands alone/],
    ['not beside value', { not: { path: 'body.a', op: 'exists' }, value: 1 }, ['value'], /"not" stands alone/],
    ['all beside any', { all: [{ path: 'body.a', op: 'exists' }], any: [] }, ['any'], /"all" stands alone/],
    ['an empty all', { all: [] }, ['all'], /non-empty array/],
    ['an empty any', { any: [] }, ['any'], /non-empty array/],
    ['all that is not an array', { all: { path: 'body.a', op: 'exists' } }, ['all'], /non-empty array/],
    ['not of a string', { not: 'body.a' }, ['not'], /must be a condition object/],
    ['a string', 'body.a eq 1', [], /must be a condition object/],
    ['null', null, [], /must be a condition object/],
    ['an array', [{ path: 'body.a', op: 'exists' }], [], /must be a condition object/],
    ['an empty object', {}, ['path'], /path of 1-256/],
  ])('refuses %s, naming the field', (_name, value, path, message) => {
    const found = issues(value);
    expect(found.map((issue) => issue.path)).toContainEqual(path);
    expect(found.find((issue) => JSON.stringify(issue.path) === JSON.stringify(path))?.message).toMatch(message);
  });

  it('names a field deep inside combinators, and every problem at once', () => {
    const found = issues({
      all: [
        { path: 'body.a', op: 'exists' },
        { any: [{ path: 'headers.x', op: 'eq', value: 'a' }, { path: 'body.x', op: 'in', value: 'a' }] },
        { not: { path: 'nope.x', op: 'exists' } },
        { path: 'body.b', op: 'gt' },
      ],
    });
    expect(found.map((issue) => issue.path)).toEqual([
      ['all', 1, 'any', 1, 'value'],
      ['all', 2, 'not', 'path'],
      ['all', 3, 'value'],
    ]);
  });

  it(`nests all, any and not at most ${MAX_CONDITION_DEPTH} deep`, () => {
    expect(schema.safeParse(nested(MAX_CONDITION_DEPTH)).success).toBe(true);
    const found = issues(nested(MAX_CONDITION_DEPTH + 1));
    expect(found).toEqual([{ path: Array.from({ length: MAX_CONDITION_DEPTH + 1 }, () => 'not'), message: `conditions nest at most ${MAX_CONDITION_DEPTH} deep` }]);
    const mixed = { all: [{ any: [{ not: { all: [{ any: [{ not: { all: [{ any: [{ not: { path: 'body.a', op: 'exists' } }] }] } }] }] } }] }] };
    expect(issues(mixed)[0]!.path).toEqual(['all', 0, 'any', 0, 'not', 'all', 0, 'any', 0, 'not', 'all', 0, 'any', 0, 'not']);
  });

  it(`holds at most ${MAX_CONDITION_LEAVES} leaves, however they are spread`, () => {
    const leafOf = (i: number) => ({ path: `body.f${i}`, op: 'eq', value: i });
    const flat = { all: Array.from({ length: MAX_CONDITION_LEAVES + 1 }, (_, i) => leafOf(i)) };
    expect(issues(flat)).toEqual([{ path: [], message: `at most ${MAX_CONDITION_LEAVES} conditions in one` }]);
    const spread = { any: Array.from({ length: 5 }, (_, g) => ({ all: Array.from({ length: 13 }, (_, i) => leafOf(g * 13 + i)) })) };
    expect(issues(spread)).toEqual([{ path: [], message: `at most ${MAX_CONDITION_LEAVES} conditions in one` }]);
  });

  it('checks roots against the list it was made with', () => {
    const steps = conditionSchema(['steps', 'input']);
    expect(steps.safeParse({ path: 'steps.charge.status', op: 'eq', value: 200 }).success).toBe(true);
    expect(steps.safeParse({ path: 'body.type', op: 'exists' }).error?.issues[0]?.message).toBe('unknown root "body": a path starts with steps, input');
  });
});
