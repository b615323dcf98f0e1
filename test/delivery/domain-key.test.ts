import { describe, expect, it } from 'vitest';
import { domainKeyOf, HostRules, normalizeHostKey } from '../../src/delivery/domain-key.js';

describe('domainKeyOf', () => {
  it.each([
    ['http://API.Example.com/hook', 'api.example.com'],
    ['http://127.0.0.1:5678/webhook', '127.0.0.1:5678'],
    ['http://example.com:80/', 'example.com'],
    ['https://example.com:443/', 'example.com'],
    ['https://example.com:80/', 'example.com:80'],
    ['http://[::1]:8080/', '[::1]:8080'],
    ['http://[0:0:0:0:0:0:0:1]/', '[::1]'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://bücher.de/', 'xn--bcher-kva.de'],
  ])('%s → %s', (url, key) => {
    expect(domainKeyOf(new URL(url))).toBe(key);
  });
});

describe('normalizeHostKey', () => {
  it.each([
    ['API.example.com', 'api.example.com'],
    ['127.0.0.1:5678', '127.0.0.1:5678'],
    ['[::1]:80', '[::1]:80'],
    ['[0::1]', '[::1]'],
    ['::1', '[::1]'],
    ['localhost:08080', 'localhost:8080'],
    ['0x7f.1', '127.0.0.1'],
  ])('%s → %s', (key, normal) => {
    expect(normalizeHostKey(key)).toBe(normal);
  });

  it.each([
    ['', /empty/],
    ['api.example.com/hooks', /only a host and an optional port \(found "\/"\)/],
    ['http://api.example.com', /is a URL/],
    ['api example.com', /whitespace/],
    [' api.example.com', /whitespace/],
    ['user@host', /found "@"/],
    ['*.example.com', /wildcards/],
    ['host:0', /out of range/],
    ['host:65536', /out of range/],
    ['host:http', /port "http" is not a number/],
    ['host:', /without a port/],
    [':80', /empty host/],
    ['[::1', /without a closing/],
    ['[::1]x', /unexpected "x"/],
    ['[nonsense]', /not a valid host/],
    ['exa%mple.com', /not a valid host/],
  ])('rejects %j', (key, message) => {
    expect(() => normalizeHostKey(key)).toThrow(message);
  });
});

describe('HostRules', () => {
  it('matches host:port only on that port and host on any port; the most specific wins', () => {
    const rules = new HostRules([
      ['localhost', 'any port'],
      ['localhost:5678', 'port 5678'],
      ['127.0.0.1:9000', 'ip port 9000'],
      ['[::1]', 'v6 any'],
    ]);
    expect(rules.match('localhost:5678')).toBe('port 5678');
    expect(rules.match('localhost:9000')).toBe('any port');
    expect(rules.match('localhost')).toBe('any port');
    expect(rules.match('127.0.0.1:9000')).toBe('ip port 9000');
    expect(rules.match('127.0.0.1:9001')).toBeUndefined();
    expect(rules.match('127.0.0.1')).toBeUndefined();
    expect(rules.match('[::1]:443')).toBe('v6 any');
    expect(rules.match('[::1]')).toBe('v6 any');
    expect(rules.match('example.com')).toBeUndefined();
  });

  it('is the same rule whatever the spelling of the key', () => {
    const rules = new HostRules<number>();
    rules.set('API.Example.com', 1);
    rules.set('api.example.com', 2);
    expect([...rules.entries()]).toEqual([['api.example.com', 2]]);
    expect(rules.get('API.EXAMPLE.COM')).toBe(2);
    expect(rules.match('api.example.com:8443')).toBe(2);
  });

  it('get returns the exact rule, not the one that would match', () => {
    const rules = new HostRules([['example.com', 1]]);
    expect(rules.get('example.com:8080')).toBeUndefined();
    expect(rules.match('example.com:8080')).toBe(1);
  });

  it('deletes, and treats garbage keys as absent on get/delete but refuses them on set', () => {
    const rules = new HostRules([['example.com:81', 'x']]);
    expect(rules.delete('EXAMPLE.com:81')).toBe(true);
    expect(rules.delete('example.com:81')).toBe(false);
    expect(rules.get('not a host')).toBeUndefined();
    expect(rules.delete('not a host')).toBe(false);
    expect(() => rules.set('http://example.com/', 'y')).toThrow(/is a URL/);
    expect(() => new HostRules([['a/b', 1]])).toThrow(/found "\/"/);
  });
});
