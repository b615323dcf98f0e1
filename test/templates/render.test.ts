import { describe, expect, it } from 'vitest';
import { templateConfigSchema } from '../../src/config/schema.js';
import { lookupPath, parseText, secretReference, urlTemplateProblem } from '../../src/templates/placeholders.js';
import { renderTemplate, sentinelOf, templateReferences, type RenderedTemplate } from '../../src/templates/render.js';

const template = (input: Record<string, unknown>) => templateConfigSchema.parse(input);

/** Render, expecting success; secrets come back as `<secret:name>` to read the results easily. */
function render(input: Record<string, unknown>, vars: unknown = {}): RenderedTemplate {
  const result = renderTemplate(template(input), { vars });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const { secrets } = result.rendered;
  const shown = (text: string) => secrets.names.reduce((out, name, index) => out.split(sentinelOf(secrets, index)).join(`<secret:${name}>`), text);
  const rendered = result.rendered;
  return {
    ...rendered,
    url: rendered.url === undefined ? undefined : shown(rendered.url),
    headers: Object.fromEntries(Object.entries(rendered.headers).map(([name, value]) => [name, shown(value)])),
    body: rendered.body === undefined ? undefined : JSON.parse(shown(JSON.stringify(rendered.body))),
  };
}

function problems(input: Record<string, unknown>, vars: unknown = {}) {
  const result = renderTemplate(template(input), { vars });
  if (result.ok) throw new Error('rendered');
  return result.problems;
}

describe('placeholders', () => {
  it('reads only {{ vars.… }} and {{ secrets.… }}; anything else in braces is text', () => {
    const segments = parseText('a {{ vars.x }} {{constructor}} {{ other.y }} {{ vars }} {{ vars..z }} {{ VARS.x }} {{secrets.t}}');
    expect(segments.filter((segment) => typeof segment !== 'string').map((p) => typeof p === 'string' ? p : `${p.root}:${p.path.join('.')}`)).toEqual(['vars:x', 'secrets:t']);
  });

  it('looks up own properties and array indexes only', () => {
    const value = JSON.parse('{"a":{"b":[1,{"c":"d"}]},"__proto__":{"x":1},"n":null}');
    expect(lookupPath(value, ['a', 'b', '1', 'c'])).toEqual({ found: true, value: 'd' });
    expect(lookupPath(value, ['__proto__', 'x'])).toEqual({ found: true, value: 1 });
    expect(lookupPath(value, ['n'])).toEqual({ found: true, value: null });
    for (const path of [['constructor'], ['toString'], ['a', 'b', 'length'], ['a', 'b', '01'], ['a', 'b', '2'], ['a', 'hasOwnProperty'], ['a', 'b', '0', 'x']]) {
      expect(lookupPath(value, path), path.join('.')).toEqual({ found: false });
    }
    expect(lookupPath({}, ['__proto__'])).toEqual({ found: false });
  });

  it('names a vault secret only when it is the whole value', () => {
    expect(secretReference('{{ secrets.stripe.key }}')).toBe('stripe.key');
    expect(secretReference('{{secrets.a}}')).toBe('a');
    expect(secretReference('x{{ secrets.a }}')).toBeUndefined();
    expect(secretReference('{{ vars.a }}')).toBeUndefined();
    expect(secretReference('whsec_abc')).toBeUndefined();
  });

  it('refuses a secret in the scheme, host or port of a URL template, and a literal URL that is not http(s)', () => {
    for (const url of [
      'https://{{ secrets.host }}/x',
      'https://api.example.com:{{ secrets.port }}/x',
      '{{ secrets.base }}/x',
      'https://user:{{ secrets.pw }}@api.example.com/x',
      'https://api.example.com{{ secrets.t }}',
    ]) {
      expect(urlTemplateProblem(url), url).toMatch(/scheme, host or port/);
    }
    for (const url of ['https://api.example.com/{{ secrets.t }}', 'https://h?token={{ secrets.t }}', '{{ vars.base }}/x?t={{ secrets.t }}', 'https://{{ vars.host }}/x']) {
      expect(urlTemplateProblem(url), url).toBeUndefined();
    }
    expect(urlTemplateProblem('ftp://example.com/')).toMatch(/http and https/);
    expect(urlTemplateProblem('not a url')).toMatch(/not a valid URL/);
    expect(templateConfigSchema.safeParse({ url: 'https://{{ secrets.h }}/' }).success).toBe(false);
  });
});

describe('rendering a template', () => {
  it('gives a JSON body string that is exactly one placeholder the variable\'s JSON value, and text elsewhere', () => {
    const rendered = render(
      {
        url: 'https://api.example.com/hook',
        body: { n: '{{ vars.n }}', spaced: '{{vars.n}}', flag: '{{ vars.flag }}', obj: '{{ vars.obj }}', nil: '{{ vars.nil }}', text: 'n={{ vars.n }} obj={{ vars.obj }}', list: ['{{ vars.list.1 }}', 7], token: '{{ secrets.api }}', note: 'Bearer {{ secrets.api }}' },
      },
      { n: 42, flag: false, obj: { a: [1, 'x'] }, nil: null, list: ['a', 'b'] },
    );
    expect(rendered.body).toEqual({
      n: 42,
      spaced: 42,
      flag: false,
      obj: { a: [1, 'x'] },
      nil: null,
      text: 'n=42 obj={"a":[1,"x"]}',
      list: ['b', 7],
      token: '<secret:api>',
      note: 'Bearer <secret:api>',
    });
    expect(rendered.bodyIsText).toBe(false);
    expect(rendered.secrets.names).toEqual(['api']);
  });

  it('inserts values as text in a string body and in headers, and never renders a value again', () => {
    const rendered = render(
      { url: 'https://api.example.com/', headers: { 'x-user': '{{ vars.user }}', authorization: 'Bearer {{ secrets.token }}' }, body: 'Hi {{ vars.user }}: {{ vars.evil }} {{ vars.braces }}' },
      { user: 'ann', evil: '{{ secrets.token }}', braces: '{{ vars.user }}' },
    );
    expect(rendered.body).toBe('Hi ann: {{ secrets.token }} {{ vars.user }}');
    expect(rendered.bodyIsText).toBe(true);
    expect(rendered.headers).toEqual({ 'x-user': 'ann', authorization: 'Bearer <secret:token>' });
    expect(rendered.secrets.names).toEqual(['token']);
  });

  it('keeps a variable holding a placeholder as that text, also where it is a whole JSON string', () => {
    const rendered = render({ url: 'https://a.example/', body: { a: '{{ vars.a }}', b: '{{ vars.b }}' } }, { a: '{{ secrets.token }}', b: { c: '{{ secrets.token }}' } });
    expect(rendered.body).toEqual({ a: '{{ secrets.token }}', b: { c: '{{ secrets.token }}' } });
    expect(rendered.secrets.names).toEqual([]);
  });

  it('leaves what is not a placeholder as it is: {{ constructor }}, nested braces, other roots', () => {
    const rendered = render(
      { url: 'https://a.example/', body: { a: '{{ constructor }}', b: '{{{ vars.x }}}', c: '{{ vars.{{ vars.x }} }}', d: '{{ steps.s.response.status }}', e: '{{ vars.constructor }}x' } },
      { x: 'X', constructor: 'own' },
    );
    expect(rendered.body).toEqual({ a: '{{ constructor }}', b: '{X}', c: '{{ vars.X }}', d: '{{ steps.s.response.status }}', e: 'ownx' });
  });

  it('does not render object keys, and keeps a __proto__ key a key', () => {
    const body = JSON.parse('{"{{ vars.k }}": "{{ vars.v }}", "__proto__": {"polluted": "{{ vars.v }}"}}');
    const rendered = render({ url: 'https://a.example/', body }, { k: 'K', v: 'V' });
    expect(Object.keys(rendered.body as object)).toEqual(['{{ vars.k }}', '__proto__']);
    expect(JSON.stringify(rendered.body)).toBe('{"{{ vars.k }}":"V","__proto__":{"polluted":"V"}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('percent-encodes variables in the path and query, and takes them as they are in the origin', () => {
    const rendered = render(
      { url: 'https://{{ vars.host }}/users/{{ vars.id }}/x?q={{ vars.q }}&t={{ secrets.t }}#{{ vars.frag }}' },
      { host: 'api.example.com:8443', id: 'a/b?c', q: 'x&y=z é', frag: '#' },
    );
    expect(rendered.url).toBe('https://api.example.com:8443/users/a%2Fb%3Fc/x?q=x%26y%3Dz%20%C3%A9&t=<secret:t>#%23');
    expect(render({ url: '{{ vars.base }}/items/{{ vars.id }}' }, { base: 'https://api.example.com/v2', id: '../admin' }).url).toBe('https://api.example.com/v2/items/..%2Fadmin');
    expect(render({ url: 'https://a.example/{{ vars.s }}' }, { s: 'x\ud800y' }).url).toBe('https://a.example/x%EF%BF%BDy');
  });

  it('names every missing variable, once each', () => {
    const found = problems(
      { url: 'https://a.example/{{ vars.user.id }}', headers: { 'x-a': '{{ vars.a }}' }, body: { one: '{{ vars.user.email }}', two: 'x {{ vars.user.email }}', three: '{{ vars.list.5 }}' } },
      { user: { id: 1 }, list: [] },
    );
    expect(found.map((problem) => problem.field).sort()).toEqual(['vars.a', 'vars.list.5', 'vars.user.email']);
    expect(found[0]!.message).toMatch(/missing/);
  });

  it('refuses a secret that a template puts in the URL origin, when rendering too', () => {
    const result = renderTemplate({ url: 'https://{{ secrets.h }}/', method: 'POST', headers: {} }, { vars: {} });
    expect(result.ok).toBe(false);
  });

  it('stops a template that a variable would blow up', () => {
    const body = { parts: Array.from({ length: 50 }, () => 'x{{ vars.big }}') };
    const result = renderTemplate(template({ url: 'https://a.example/', body }), { vars: { big: 'y'.repeat(100_000) } }, 1_000_000);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]!.message).toMatch(/more than 1000000 characters/);
  });

  it('lists the variables and secrets a template uses', () => {
    expect(templateReferences(template({ url: 'https://a.example/{{ vars.id }}', headers: { a: '{{ secrets.t }}' }, body: { x: ['{{ vars.user.email }}', '{{ secrets.t }}'] } }))).toEqual({
      vars: ['id', 'user.email'],
      secrets: ['t'],
    });
  });
});
