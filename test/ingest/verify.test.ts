import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  signStandardWebhook,
  verifyConfigSchema,
  verifyRequest,
  type VerifyConfig,
  type VerifyInput,
  type VerifyResult,
} from '../../src/ingest/verify/index.js';

const NOW_MS = Date.parse('2026-03-29T12:00:00Z');
const NOW_SEC = NOW_MS / 1000;
const BODY = Buffer.from('{"id":"evt_1","amount":1999,"note":"caf\u00e9 \u2603"}\n', 'utf8');
const TAMPERED = Buffer.from(BODY.toString('utf8').replace('1999', '1998'), 'utf8');

function input(headers: VerifyInput['headers'], body: Buffer = BODY, query = ''): VerifyInput {
  return { headers, rawBody: body, query: new URLSearchParams(query) };
}

function config(raw: unknown): VerifyConfig {
  return verifyConfigSchema.parse(raw);
}

function hmac(key: string | Buffer, content: string | Buffer, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', key).update(content).digest(encoding);
}

function expectFail(result: VerifyResult, reason: RegExp): void {
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.reason).toMatch(reason);
}

describe('stripe', () => {
  const secret = 'whsec_stripe_test_secret';
  const stripe = config({ type: 'stripe', secret });
  /** Stripe documents the signed payload as `${t}.${body}`, HMAC-SHA256 hex. */
  const sign = (t: number, body: Buffer, key = secret) => hmac(key, Buffer.concat([Buffer.from(`${t}.`), body]), 'hex');

  it('applies the default tolerance of 300 s', () => {
    expect(stripe).toEqual({ type: 'stripe', secret, toleranceSec: 300 });
  });

  it('passes a valid signature, also when another v1 (rolled secret) and a v0 come first', () => {
    const t = NOW_SEC - 10;
    expect(verifyRequest(stripe, input({ 'stripe-signature': `t=${t},v1=${sign(t, BODY)}` }), NOW_MS)).toEqual({ ok: true });
    const header = `t=${t},v0=abcd,v1=${sign(t, BODY, 'old')},v1=${sign(t, BODY)}`;
    expect(verifyRequest(stripe, input({ 'stripe-signature': header }), NOW_MS)).toEqual({ ok: true });
  });

  it('fails a tampered body, a wrong secret and a signature over another timestamp', () => {
    const t = NOW_SEC;
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=${t},v1=${sign(t, BODY)}` }, TAMPERED), NOW_MS), /does not match/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=${t},v1=${sign(t, BODY, 'wrong')}` }), NOW_MS), /does not match/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=${t + 1},v1=${sign(t, BODY)}` }), NOW_MS), /does not match/);
  });

  it('fails a timestamp outside the tolerance in either direction', () => {
    for (const t of [NOW_SEC - 301, NOW_SEC + 301]) {
      expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=${t},v1=${sign(t, BODY)}` }), NOW_MS), /tolerance/);
    }
    const t = NOW_SEC - 300;
    expect(verifyRequest(stripe, input({ 'stripe-signature': `t=${t},v1=${sign(t, BODY)}` }), NOW_MS).ok).toBe(true);
    const wide = config({ type: 'stripe', secret, toleranceSec: 3600 });
    const old = NOW_SEC - 3000;
    expect(verifyRequest(wide, input({ 'stripe-signature': `t=${old},v1=${sign(old, BODY)}` }), NOW_MS).ok).toBe(true);
  });

  it('fails missing and garbled headers without throwing', () => {
    const valid = sign(NOW_SEC, BODY);
    expectFail(verifyRequest(stripe, input({}), NOW_MS), /missing stripe-signature/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': '' }), NOW_MS), /missing/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `v1=${valid}` }), NOW_MS), /no timestamp/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=abc,v1=${valid}` }), NOW_MS), /not a number/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=${NOW_SEC}` }), NOW_MS), /no v1/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=${NOW_SEC},v1=zz${valid.slice(2)}` }), NOW_MS), /does not match/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': `t=${NOW_SEC},v1=${valid.slice(0, 10)}` }), NOW_MS), /does not match/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': ['a', 'b'] }), NOW_MS), /missing/);
    expectFail(verifyRequest(stripe, input({ 'stripe-signature': ',,,=,t=,v1' }), NOW_MS), /not a number/);
  });
});

describe('github', () => {
  const secret = "It's a Secret to Everybody";
  const github = config({ type: 'github', secret });

  it('passes the example from the GitHub documentation', () => {
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    const doc = input(
      { 'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' },
      Buffer.from('Hello, World!'),
    );
    expect(verifyRequest(github, doc, NOW_MS)).toEqual({ ok: true });
  });

  it('passes a signature computed over the raw bytes, including non-UTF-8 bytes', () => {
    const body = Buffer.concat([BODY, Buffer.from([0xff, 0x00, 0xfe])]);
    expect(verifyRequest(github, input({ 'x-hub-signature-256': `sha256=${hmac(secret, body, 'hex')}` }, body), NOW_MS).ok).toBe(true);
  });

  it('fails a tampered body, a wrong secret, a missing or garbled header', () => {
    const valid = `sha256=${hmac(secret, BODY, 'hex')}`;
    expectFail(verifyRequest(github, input({ 'x-hub-signature-256': valid }, TAMPERED), NOW_MS), /does not match/);
    expectFail(verifyRequest(github, input({ 'x-hub-signature-256': `sha256=${hmac('nope', BODY, 'hex')}` }), NOW_MS), /does not match/);
    expectFail(verifyRequest(github, input({ 'x-hub-signature': `sha1=${hmac(secret, BODY, 'hex')}` }), NOW_MS), /missing x-hub-signature-256/);
    expectFail(verifyRequest(github, input({ 'x-hub-signature-256': valid.slice(7) }), NOW_MS), /sha256=/);
    expectFail(verifyRequest(github, input({ 'x-hub-signature-256': `${valid}zz` }), NOW_MS), /not hex/);
    expectFail(verifyRequest(github, input({ 'x-hub-signature-256': 'sha256=' }), NOW_MS), /not hex/);
  });
});

describe('shopify', () => {
  const secret = 'shpss_0123456789abcdef';
  const shopify = config({ type: 'shopify', secret });

  it('passes a valid base64 signature', () => {
    expect(verifyRequest(shopify, input({ 'x-shopify-hmac-sha256': hmac(secret, BODY, 'base64') }), NOW_MS)).toEqual({ ok: true });
  });

  it('fails a tampered body, a wrong secret, a missing or garbled header', () => {
    const valid = hmac(secret, BODY, 'base64');
    expectFail(verifyRequest(shopify, input({ 'x-shopify-hmac-sha256': valid }, TAMPERED), NOW_MS), /does not match/);
    expectFail(verifyRequest(shopify, input({ 'x-shopify-hmac-sha256': hmac('x', BODY, 'base64') }), NOW_MS), /does not match/);
    expectFail(verifyRequest(shopify, input({}), NOW_MS), /missing x-shopify-hmac-sha256/);
    expectFail(verifyRequest(shopify, input({ 'x-shopify-hmac-sha256': `${valid.slice(0, -4)}!!!!` }), NOW_MS), /not base64/);
    expectFail(verifyRequest(shopify, input({ 'x-shopify-hmac-sha256': hmac(secret, BODY, 'hex') }), NOW_MS), /does not match/);
  });
});

describe('standard-webhooks', () => {
  const key = randomBytes(24);
  const secret = `whsec_${key.toString('base64')}`;
  const standard = config({ type: 'standard-webhooks', secret });
  /** The spec: HMAC-SHA256 keyed with the base64-decoded secret over `${id}.${timestamp}.${body}`. */
  const sign = (id: string, t: number, body: Buffer, k: Buffer = key) =>
    `v1,${hmac(k, Buffer.concat([Buffer.from(`${id}.${t}.`), body]), 'base64')}`;
  const headers = (id: string, t: number, signature: string) => ({ 'webhook-id': id, 'webhook-timestamp': String(t), 'webhook-signature': signature });

  it('passes a valid signature, among other versions and other signatures', () => {
    const t = NOW_SEC - 5;
    expect(verifyRequest(standard, input(headers('msg_1', t, sign('msg_1', t, BODY))), NOW_MS)).toEqual({ ok: true });
    const list = `v1a,${randomBytes(64).toString('base64')} ${sign('msg_1', t, BODY, randomBytes(24))} ${sign('msg_1', t, BODY)}`;
    expect(verifyRequest(standard, input(headers('msg_1', t, list)), NOW_MS).ok).toBe(true);
  });

  it('accepts the svix-* header names that Svix-based senders use', () => {
    const svix = { 'svix-id': 'msg_2', 'svix-timestamp': String(NOW_SEC), 'svix-signature': sign('msg_2', NOW_SEC, BODY) };
    expect(verifyRequest(standard, input(svix), NOW_MS).ok).toBe(true);
  });

  it('accepts any of several space-separated secrets (rotation)', () => {
    const next = randomBytes(32);
    const rotating = config({ type: 'standard-webhooks', secret: `${secret}  whsec_${next.toString('base64')}` });
    expect(verifyRequest(rotating, input(headers('m', NOW_SEC, sign('m', NOW_SEC, BODY, next))), NOW_MS).ok).toBe(true);
    expect(verifyRequest(rotating, input(headers('m', NOW_SEC, sign('m', NOW_SEC, BODY))), NOW_MS).ok).toBe(true);
  });

  it('fails a tampered body, a wrong secret, another id', () => {
    const valid = sign('msg_1', NOW_SEC, BODY);
    expectFail(verifyRequest(standard, input(headers('msg_1', NOW_SEC, valid), TAMPERED), NOW_MS), /does not match/);
    expectFail(verifyRequest(standard, input(headers('msg_2', NOW_SEC, valid)), NOW_MS), /does not match/);
    const wrong = sign('msg_1', NOW_SEC, BODY, randomBytes(24));
    expectFail(verifyRequest(standard, input(headers('msg_1', NOW_SEC, wrong)), NOW_MS), /does not match/);
  });

  it('fails a stale or future timestamp', () => {
    for (const t of [NOW_SEC - 301, NOW_SEC + 301]) {
      expectFail(verifyRequest(standard, input(headers('m', t, sign('m', t, BODY))), NOW_MS), /tolerance/);
    }
  });

  it('fails missing and garbled headers without throwing', () => {
    const full = headers('m', NOW_SEC, sign('m', NOW_SEC, BODY));
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const partial: VerifyInput['headers'] = { ...full, [name]: undefined };
      expectFail(verifyRequest(standard, input(partial), NOW_MS), /missing/);
    }
    expectFail(verifyRequest(standard, input({ ...full, 'webhook-timestamp': '1e9' }), NOW_MS), /not a number/);
    expectFail(verifyRequest(standard, input({ ...full, 'webhook-signature': 'v2,abc' }), NOW_MS), /no v1/);
    expectFail(verifyRequest(standard, input({ ...full, 'webhook-signature': 'v1,%%%' }), NOW_MS), /does not match/);
    expectFail(verifyRequest(standard, input({ ...full, 'webhook-signature': 'v1,' }), NOW_MS), /does not match/);
  });
});

describe('signStandardWebhook', () => {
  it('produces what the verifier accepts, one entry per key', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const body = Buffer.from([1, 2, 3, 0xff]);
    const signature = signStandardWebhook(secret, 'msg_9', NOW_SEC, body);
    expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    const headers = { 'webhook-id': 'msg_9', 'webhook-timestamp': String(NOW_SEC), 'webhook-signature': signature };
    expect(verifyRequest(config({ type: 'standard-webhooks', secret }), input(headers, body), NOW_MS).ok).toBe(true);
    const two = signStandardWebhook(`${secret} whsec_${randomBytes(24).toString('base64')}`, 'msg_9', NOW_SEC, body);
    expect(two.split(' ')).toHaveLength(2);
    expect(two.split(' ')[0]).toBe(signature);
  });

  it('matches the test vector published with the Standard Webhooks spec', () => {
    const body = Buffer.from('{"test": 2432232314}');
    const actual = signStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body);
    expect(actual).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('throws precise errors for a bad secret or timestamp', () => {
    expect(() => signStandardWebhook('not-a-secret', 'm', 1, BODY)).toThrow(/whsec_<base64>/);
    expect(() => signStandardWebhook('whsec_AAAA', 'm', 1.5, BODY)).toThrow(/timestampSec/);
  });
});

describe('hmac-sha256', () => {
  const secret = 'generic-secret';

  it('fills defaults: hex, no prefix', () => {
    expect(config({ type: 'hmac-sha256', secret, header: 'X-Signature' })).toEqual({ type: 'hmac-sha256', secret, header: 'X-Signature', encoding: 'hex', prefix: '' });
  });

  it('passes hex (either case) in a header named in any case', () => {
    const generic = config({ type: 'hmac-sha256', secret, header: 'X-Signature' });
    expect(verifyRequest(generic, input({ 'x-signature': hmac(secret, BODY, 'hex') }), NOW_MS).ok).toBe(true);
    expect(verifyRequest(generic, input({ 'x-signature': hmac(secret, BODY, 'hex').toUpperCase() }), NOW_MS).ok).toBe(true);
  });

  it('passes base64 with a prefix and fails without it', () => {
    const typeform = config({ type: 'hmac-sha256', secret, header: 'typeform-signature', encoding: 'base64', prefix: 'sha256=' });
    const valid = `sha256=${hmac(secret, BODY, 'base64')}`;
    expect(verifyRequest(typeform, input({ 'typeform-signature': valid }), NOW_MS).ok).toBe(true);
    expectFail(verifyRequest(typeform, input({ 'typeform-signature': valid.slice(7) }), NOW_MS), /start with sha256=/);
  });

  it('fails a tampered body, a wrong secret, a missing or garbled header', () => {
    const generic = config({ type: 'hmac-sha256', secret, header: 'x-signature' });
    const valid = hmac(secret, BODY, 'hex');
    expectFail(verifyRequest(generic, input({ 'x-signature': valid }, TAMPERED), NOW_MS), /does not match/);
    expectFail(verifyRequest(generic, input({ 'x-signature': hmac('other', BODY, 'hex') }), NOW_MS), /does not match/);
    expectFail(verifyRequest(generic, input({}), NOW_MS), /missing x-signature header/);
    expectFail(verifyRequest(generic, input({ 'x-signature': 'xyz' }), NOW_MS), /not hex/);
  });
});

describe('token', () => {
  it('passes the right token in a header, with or without a Bearer scheme on authorization', () => {
    const byHeader = config({ type: 'token', secret: 's3cret', header: 'X-Token' });
    expect(verifyRequest(byHeader, input({ 'x-token': 's3cret' }), NOW_MS)).toEqual({ ok: true });
    const byAuth = config({ type: 'token', secret: 's3cret', header: 'authorization' });
    expect(verifyRequest(byAuth, input({ authorization: 'Bearer s3cret' }), NOW_MS).ok).toBe(true);
    expect(verifyRequest(byAuth, input({ authorization: 's3cret' }), NOW_MS).ok).toBe(true);
  });

  it('passes the right token in a query parameter', () => {
    const byQuery = config({ type: 'token', secret: 'a b&c', query: 'token' });
    expect(verifyRequest(byQuery, input({}, BODY, 'x=1&token=a%20b%26c'), NOW_MS)).toEqual({ ok: true });
  });

  it('fails a wrong, longer, shorter, missing or repeated token', () => {
    const byHeader = config({ type: 'token', secret: 's3cret', header: 'x-token' });
    for (const wrong of ['s3creT', 's3cret ', 's3cre', 'x'.repeat(10_000)]) {
      expectFail(verifyRequest(byHeader, input({ 'x-token': wrong }), NOW_MS), /does not match/);
    }
    expectFail(verifyRequest(byHeader, input({ 'x-other': 's3cret' }), NOW_MS), /missing x-token header/);
    expectFail(verifyRequest(byHeader, input({}, BODY, 'x-token=s3cret'), NOW_MS), /missing x-token header/);
    const byQuery = config({ type: 'token', secret: 's3cret', query: 'token' });
    expectFail(verifyRequest(byQuery, input({}, BODY, 'token=nope'), NOW_MS), /does not match/);
    expectFail(verifyRequest(byQuery, input({ token: 's3cret' }), NOW_MS), /missing token query parameter/);
    expectFail(verifyRequest(byQuery, input({}, BODY, 'token=s3cret&token=s3cret'), NOW_MS), /missing token/);
  });
});

describe('verifyConfigSchema', () => {
  const reject = (raw: unknown): string => {
    const result = verifyConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    return result.success ? '' : JSON.stringify(result.error.issues);
  };

  it('rejects unknown keys in every variant', () => {
    expect(reject({ type: 'github', secret: 's', tolerance: 5 })).toContain('tolerance');
    expect(reject({ type: 'stripe', secret: 's', extra: true })).toContain('extra');
    expect(reject({ type: 'token', secret: 's', header: 'x', oops: 1 })).toContain('oops');
  });

  it('rejects unknown types and wrong value types', () => {
    reject({ type: 'paypal', secret: 's' });
    reject({ secret: 's' });
    reject({ type: 'stripe', secret: 42 });
    reject({ type: 'stripe', secret: '' });
    reject({ type: 'stripe', secret: 's', toleranceSec: '300' });
    reject({ type: 'stripe', secret: 's', toleranceSec: -1 });
    reject({ type: 'hmac-sha256', secret: 's', header: 'x', encoding: 'base32' });
    reject({ type: 'hmac-sha256', secret: 's', header: 'bad header' });
    reject({ type: 'hmac-sha256', secret: 's' });
  });

  it('requires whsec_<base64> secrets for standard-webhooks', () => {
    expect(reject({ type: 'standard-webhooks', secret: 'plain' })).toContain('whsec_<base64>');
    expect(reject({ type: 'standard-webhooks', secret: 'whsec_AAAA whsec_!!' })).toContain('key 2');
    reject({ type: 'standard-webhooks', secret: '   ' });
  });

  it('requires exactly one of header or query for token, with a clear message', () => {
    expect(reject({ type: 'token', secret: 's' })).toContain('exactly one of header or query');
    expect(reject({ type: 'token', secret: 's', header: 'x', query: 'q' })).toContain('exactly one of header or query');
  });
});
