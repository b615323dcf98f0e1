import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceClient } from '../../src/client/client.js';
import { killHard, spawnSluice } from '../support/child.js';
import { eventually } from '../support/sluice.js';

const KEY = 'sk_stop_deadline_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sluice-deadline-'));

/** A target that holds every request without answering until `answering` is set; then answers 200. */
let answering = false;
const held: ServerResponse[] = [];
const arrivals: string[] = [];
const target = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    arrivals.push(req.headers['webhook-id'] as string);
    if (answering) res.end('ok');
    else held.push(res);
  });
});

afterAll(async () => {
  target.closeAllConnections();
  await new Promise((resolve) => target.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const start = () => spawnSluice(['--config', join(dir, 'sluice.yaml'), '--data-dir', join(dir, 'data')], { SLUICE_ADMIN_KEY: KEY }, dir);

describe('SIGTERM with a delivery hanging', () => {
  it('exits soon after server.shutdownTimeoutMs and delivers the message after a restart', async () => {
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    // The delivery would wait 10 minutes for its response; the stop may wait 1 s for it.
    writeFileSync(
      join(dir, 'sluice.yaml'),
      'network: { allowPrivate: true }\nserver: { shutdownTimeoutMs: 1000 }\nqueues: { hooks: { mode: push, timeouts: { responseMs: 600000 } } }\n',
    );
    let sluice = await start();
    const sent = await new SluiceClient({ url: sluice.url, key: KEY }).send({ url: `${origin}/hook`, queue: 'hooks', body: { n: 1 } });
    await eventually(() => held.length === 1, 'the delivery to reach the silent target');

    const exited = new Promise<number | null>((resolve) => sluice.child.once('exit', (code) => resolve(code)));
    sluice.child.kill('SIGTERM');
    // Before the fix the stop waited for the response timeout. A minute is far from both it and the
    // 1 s deadline, however loaded the machine.
    const stillRunning = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 60_000).unref());
    expect(await Promise.race([exited, stillRunning])).toBe(0);

    answering = true;
    sluice = await start();
    const client = new SluiceClient({ url: sluice.url, key: KEY });
    const delivered = await eventually(async () => {
      const message = await client.getMessage(sent.id);
      return message.state === 'delivered' ? message : undefined;
    }, 'the message to be delivered after the restart');
    // The aborted attempt was not the target's fault: it is not counted.
    expect(delivered.attempts).toHaveLength(1);
    expect(arrivals.length).toBe(2);
    await killHard(sluice.child);
  });
});
