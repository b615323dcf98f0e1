import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { signStandardWebhook } from '../../src/ingest/verify/index.js';
import { createLogger } from '../../src/observe/logger.js';
import { VAULT_KEY_FILE } from '../../src/secrets/keyring.js';
import { Sink } from '../support/sink.js';
import { eventually, startSluice, type TestSluice } from '../support/sluice.js';

/**
 * After a run that uses secrets every way there is (a template's URL, header and body; a signing
 * secret; a source's verify secret; a target that echoes everything; a deleted secret; a key
 * rotation), no file of the data dir but the key file holds a secret's bytes, raw or in base64, and
 * no log line does either.
 */

let sluice: TestSluice | undefined;
let sink: Sink | undefined;
let cleanup = () => {};
afterEach(async () => {
  await sluice?.stop();
  await sink?.stop();
  cleanup();
});

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The forms in which a value must appear nowhere: its bytes, base64, base64url, percent-encoded. */
function forms(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  return [bytes, Buffer.from(bytes.toString('base64')), Buffer.from(bytes.toString('base64').replace(/=+$/, '')), Buffer.from(bytes.toString('base64url')), Buffer.from(encodeURIComponent(value))];
}

it('leaves no secret in any file of the data dir but the key file, nor in any log line', async () => {
  const lines: string[] = [];
  const logger = createLogger('debug', new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
  sink = await new Sink((req, body) => ({ status: 200, body: `${JSON.stringify(req.headers)} ${req.url} ${body.toString()} ${Buffer.from(body).toString('base64')}` })).start();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-at-rest-'));
  cleanup = () => rmSync(dir, { recursive: true, force: true });
  sluice = await startSluice({ network: { allowPrivate: true }, queues: { inbox: { mode: 'pull' } } }, { logger, dir });
  const token = `probe-token-${randomBytes(12).toString('hex')}/+`;
  const gone = `probe-gone-${randomBytes(12).toString('hex')}`;
  const hook = `probe-hook-${randomBytes(12).toString('hex')}`;
  const whsec = `whsec_${randomBytes(24).toString('base64')}`;
  const secrets = [token, gone, hook, whsec];

  for (const [name, value] of [['api_token', token], ['gone', gone], ['hook', hook], ['whsec', whsec]] as const) {
    expect((await sluice.api('PUT', `/v1/secrets/${name}`, { value })).status).toBe(204);
  }
  await sluice.api('PUT', '/v1/queues/signed', { mode: 'push', url: `${sink.origin}/signed`, signingSecret: '{{ secrets.whsec }}' });
  await sluice.api('PUT', '/v1/sources/hooks', { queue: 'inbox', verify: { type: 'token', secret: '{{ secrets.hook }}', header: 'x-token' } });
  await sluice.api('PUT', '/v1/sources/qhooks', { routes: [{ queue: 'inbox' }, { queue: 'inbox' }], verify: { type: 'token', secret: '{{ secrets.hook }}', query: 'token' } });
  const template = {
    url: `${sink.origin}/call/{{ vars.id }}?token={{ secrets.api_token }}`,
    headers: { authorization: 'Bearer {{ secrets.api_token }}', 'x-b64': '{{ secrets.api_token }}' },
    body: { token: '{{ secrets.api_token }}', text: 'token={{ secrets.api_token }}', id: '{{ vars.id }}' },
  };
  expect((await sluice.api('PUT', '/v1/templates/call', template)).status).toBe(201);
  expect((await sluice.api('PUT', '/v1/templates/doomed', { url: `${sink.origin}/doomed`, body: '{{ secrets.gone }}' })).status).toBe(201);

  const sent = await sluice.api('POST', '/v1/messages', { template: 'call', vars: { id: 1 } });
  await sluice.api('POST', '/v1/messages/batch', { messages: [{ template: 'call', vars: { id: 2 } }, { template: 'call', vars: { id: 3 }, delayMs: 600 }] });
  const doomed = await sluice.api('POST', '/v1/messages', { template: 'doomed', delayMs: 600 });
  await sluice.api('POST', '/v1/messages', { queue: 'signed', body: 'signed body' });
  expect((await fetch(`${sluice.url}/in/hooks`, { method: 'POST', headers: { 'x-token': hook }, body: '{}' })).status).toBe(202);
  expect((await fetch(`${sluice.url}/in/hooks`, { method: 'POST', headers: { 'x-token': 'wrong' }, body: '{}' })).status).toBe(401);
  expect((await fetch(`${sluice.url}/in/qhooks?a=1&token=${encodeURIComponent(hook)}&b=x+y`, { method: 'POST', body: '{}' })).status).toBe(202);
  // The stored requests keep everything but the vault's token.
  const ingested = (await sluice.api('POST', '/v1/queues/inbox/pull', { max: 10 })).body.messages;
  expect(ingested).toHaveLength(3);
  expect(ingested[0].headers['x-token']).toBe('[vault secret]');
  expect(ingested[1].query).toBe('a=1&token=%5Bvault%20secret%5D&b=x+y');
  await sluice.api('DELETE', '/v1/secrets/gone');
  expect((await sluice.api('POST', '/v1/secrets/rotate-key')).body.resealed).toBe(3);
  await eventually(() => sink!.arrivals.length === 4, 'four deliveries');
  await eventually(async () => (await sluice!.api('GET', `/v1/messages/${doomed.body.id}`)).body.state === 'dead', 'the doomed message dead');
  await eventually(async () => (await sluice!.api('GET', `/v1/messages/${sent.body.id}`)).body.attempts?.length === 1, 'the outcome stored');

  // The target really got the secrets: this run put them on the wire.
  const call = sink.arrivals.find((arrival) => arrival.url.startsWith('/call/1'))!;
  expect(call.headers.authorization).toBe(`Bearer ${token}`);
  const signed = sink.arrivals.find((arrival) => arrival.url === '/signed')!;
  expect(signed.headers['webhook-signature']).toBe(signStandardWebhook(whsec, signed.headers['webhook-id'] as string, Number(signed.headers['webhook-timestamp']), Buffer.from('signed body')));

  // Every answer the API gives back about these messages, its listings and the dashboard's sources.
  const answers = [
    await sluice.api('GET', '/v1/messages?limit=100'),
    await sluice.api('GET', `/v1/messages/${sent.body.id}`),
    await sluice.api('GET', `/v1/messages/${doomed.body.id}`),
    await sluice.api('GET', '/v1/secrets'),
    await sluice.api('GET', '/v1/templates'),
    await sluice.api('GET', '/v1/queues'),
    await sluice.api('GET', '/v1/sources'),
    await sluice.api('GET', '/v1/stats'),
  ].map((answer) => JSON.stringify(answer.body));

  const scan = (where: string, bytes: Buffer) => {
    for (const secret of secrets) for (const form of forms(secret)) expect(bytes.includes(form), `${where} holds ${form.toString().slice(0, 24)}…`).toBe(false);
  };
  const data = join(sluice.dir, 'data');
  const files = filesUnder(data).filter((path) => !path.endsWith(VAULT_KEY_FILE));
  expect(files.map((path) => path.slice(data.length + 1))).toEqual(expect.arrayContaining(['sluice.db', 'sluice.db-wal']));
  // The scan sees what was stored: a plain message's body is there, in the WAL or the database.
  expect(files.some((path) => readFileSync(path).includes('signed body'))).toBe(true);
  // While running (the WAL holds the recent writes) and after a clean stop (checkpointed into the database).
  for (const path of files) scan(path, readFileSync(path));
  for (const [index, answer] of answers.entries()) scan(`answer ${index}`, Buffer.from(answer));
  await sluice.stop();
  for (const path of filesUnder(data).filter((file) => !file.endsWith(VAULT_KEY_FILE))) scan(path, readFileSync(path));
  for (const line of lines) scan(`log line ${line.slice(0, 60)}`, Buffer.from(line));
  expect(lines.some((line) => line.includes('secret created'))).toBe(true);
});
