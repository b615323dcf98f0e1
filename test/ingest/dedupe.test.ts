import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEDUPE_WINDOW_SEC,
  dedupeConfigSchema,
  dedupeKey,
  dedupeWindowSec,
  STRIPE_DEDUPE_MAX_BODY_BYTES,
  type DedupeConfig,
} from '../../src/ingest/dedupe.js';
import type { VerifyInput } from '../../src/ingest/verify/index.js';

function input(headers: VerifyInput['headers'], body: Buffer | string = ''): VerifyInput {
  return { headers, rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), query: new URLSearchParams() };
}

function parse(raw: unknown): DedupeConfig {
  return dedupeConfigSchema.parse(raw);
}

describe('dedupeKey', () => {
  it('reads the provider delivery headers', () => {
    expect(dedupeKey('github', input({ 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' }))).toBe('72d3162e-cc78-11e3-81ab-4c9367dc0958');
    expect(dedupeKey('shopify', input({ 'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' }))).toBe('b54557e4-bdd9-4b37-8a5f-bf7d70bcd043');
    expect(dedupeKey('standard-webhooks', input({ 'webhook-id': 'msg_1' }))).toBe('msg_1');
    expect(dedupeKey('standard-webhooks', input({ 'svix-id': 'msg_2' }))).toBe('msg_2');
  });

  it('does not mix up providers: each kind reads only its own header', () => {
    const all = input({ 'x-github-delivery': 'g', 'x-shopify-webhook-id': 's', 'webhook-id': 'w', 'x-request-id': 'r' });
    expect([dedupeKey('github', all), dedupeKey('shopify', all), dedupeKey('standard-webhooks', all), dedupeKey({ header: 'X-Request-Id' }, all)]).toEqual(['g', 's', 'w', 'r']);
  });

  it('reads the Stripe event id from the JSON body', () => {
    const event = JSON.stringify({ id: 'evt_1NG8Du2eZvKYlo2CUI79vXWy', object: 'event', data: { object: { id: 'pi_1' } } });
    expect(dedupeKey('stripe', input({}, event))).toBe('evt_1NG8Du2eZvKYlo2CUI79vXWy');
    expect(dedupeKey({ kind: 'stripe', windowSec: 60 }, input({}, event))).toBe('evt_1NG8Du2eZvKYlo2CUI79vXWy');
  });

  it('gives no Stripe key for a body that is not a JSON object with a string id, or too large', () => {
    for (const body of ['', 'not json', '[{"id":"evt_1"}]', '{"id":42}', '{"id":""}', 'null', '"evt_1"', '{"data":{"id":"evt_1"}}']) {
      expect(dedupeKey('stripe', input({}, body))).toBeUndefined();
    }
    const padding = ' '.repeat(STRIPE_DEDUPE_MAX_BODY_BYTES);
    expect(dedupeKey('stripe', input({}, `{"id":"evt_big"}${padding}`))).toBeUndefined();
    expect(dedupeKey('stripe', input({}, `{"id":"evt_fits"}${padding.slice(17)}`))).toBe('evt_fits');
  });

  it('gives no key when the header is absent, empty or repeated', () => {
    expect(dedupeKey('github', input({}))).toBeUndefined();
    expect(dedupeKey('github', input({ 'x-github-delivery': '' }))).toBeUndefined();
    expect(dedupeKey({ header: 'x-id' }, input({ 'x-id': ['a', 'b'] }))).toBeUndefined();
    expect(dedupeKey({ header: 'x-id' }, input({ 'x-id': ['a'] }))).toBe('a');
  });

  it('hashes a very long key to a fixed size, keeping distinct keys distinct', () => {
    const long = 'k'.repeat(5000);
    const key = dedupeKey({ header: 'x-id' }, input({ 'x-id': long }));
    expect(key).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(dedupeKey({ header: 'x-id' }, input({ 'x-id': `${long}!` }))).not.toBe(key);
    expect(dedupeKey({ header: 'x-id' }, input({ 'x-id': 'k'.repeat(256) }))).toBe('k'.repeat(256));
  });
});

describe('dedupeConfigSchema', () => {
  it('accepts a provider name, { kind, windowSec } and { header, windowSec }', () => {
    expect(parse('github')).toBe('github');
    expect(parse({ kind: 'shopify', windowSec: 3600 })).toEqual({ kind: 'shopify', windowSec: 3600 });
    expect(parse({ header: 'x-delivery-id' })).toEqual({ header: 'x-delivery-id' });
  });

  it('rejects unknown names, unknown keys and wrong types', () => {
    for (const raw of [
      'paypal',
      { kind: 'paypal' },
      { kind: 'github', extra: 1 },
      { header: 'x-id', windowSec: '60' },
      { header: 'x-id', windowSec: 0 },
      { header: 'x-id', windowSec: 1.5 },
      { header: 'x-id', windowSec: 31 * 86_400 },
      { header: 'bad header' },
      { header: 'x-id', kind: 'github' },
      42,
    ]) {
      expect(dedupeConfigSchema.safeParse(raw).success, JSON.stringify(raw)).toBe(false);
    }
  });

  it('defaults the window to 24 h', () => {
    expect(DEFAULT_DEDUPE_WINDOW_SEC).toBe(24 * 60 * 60);
    expect(dedupeWindowSec(parse('stripe'))).toBe(DEFAULT_DEDUPE_WINDOW_SEC);
    expect(dedupeWindowSec(parse({ header: 'x-id' }))).toBe(DEFAULT_DEDUPE_WINDOW_SEC);
    expect(dedupeWindowSec(parse({ kind: 'github', windowSec: 90 }))).toBe(90);
  });
});
