import { describe, expect, it } from 'vitest';
import { classifyAddress, SsrfGuard, type AddressClass } from '../../src/delivery/ssrf.js';

describe('classifyAddress', () => {
  const cases: [string, AddressClass][] = [
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.10', 'private'],
    ['169.254.10.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.1', 'public'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:808:808::1', 'public'],
    ['::127.0.0.1', 'reserved'],
  ];
  it.each(cases)('%s is %s', (ip, expected) => {
    expect(classifyAddress(ip)).toBe(expected);
  });

  it('refuses what is not an IP address', () => {
    expect(() => classifyAddress('localhost')).toThrow('not an IP address: "localhost"');
    expect(() => classifyAddress('1.2.3')).toThrow(/not an IP address/);
  });
});

describe('SsrfGuard', () => {
  it('refuses every non-public address when nothing is allowed, and lets public ones through', () => {
    const guard = new SsrfGuard(false);
    for (const ip of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '::1', '::ffff:127.0.0.1', '100.64.1.1']) {
      expect(guard.isAllowed('example.com', ip)).toBe(false);
    }
    expect(guard.refusal('example.com', '10.1.2.3')).toBe('private');
    expect(guard.isAllowed('example.com', '93.184.216.34')).toBe(true);
  });

  it('allows a listed host on any port and a listed host:port on that port only', () => {
    const guard = new SsrfGuard(['LocalHost', '127.0.0.1:5678']);
    expect(guard.isAllowed('localhost', '127.0.0.1')).toBe(true);
    expect(guard.isAllowed('localhost:9000', '::1')).toBe(true);
    expect(guard.isAllowed('127.0.0.1:5678', '127.0.0.1')).toBe(true);
    expect(guard.isAllowed('127.0.0.1:5679', '127.0.0.1')).toBe(false);
    expect(guard.isAllowed('127.0.0.1', '127.0.0.1')).toBe(false);
    expect(guard.isAllowed('other.internal', '10.0.0.5')).toBe(false);
  });

  it('true allows private addresses but not cloud metadata, which only a listed key opens', () => {
    expect(new SsrfGuard(true).isAllowed('x.internal', '10.0.0.5')).toBe(true);
    expect(new SsrfGuard(true).isAllowed('x.internal', '::1')).toBe(true);
    expect(new SsrfGuard(true).refusal('169.254.169.254', '169.254.169.254')).toBe('metadata');
    expect(new SsrfGuard(['169.254.169.254']).isAllowed('169.254.169.254', '169.254.169.254')).toBe(true);
  });

  it('names the bad entry of allowPrivate', () => {
    expect(() => new SsrfGuard(['localhost', 'http://x/'])).toThrow(/allowPrivate\[1\]: host key "http:\/\/x\/" is a URL/);
  });
});
