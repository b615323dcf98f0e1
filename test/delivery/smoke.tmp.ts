import { createServer } from 'node:http';
import { DeliveryClient } from '/work/main/src/delivery/http-client.ts';
const server = createServer((req, res) => { res.end('x'.repeat(5000)); });
await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
const port = (server.address() as any).port;
for (const allow of [false, true, ['localhost'], ['localhost:1']] as const) {
  const c = new DeliveryClient({ allowPrivate: allow as any });
  for (const u of [`http://127.0.0.1:${port}/`, `http://localhost:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://0x7f.1:${port}/`, 'http://169.254.169.254/', 'ftp://x/', 'http://nonexistent.invalid/'])
    console.log(JSON.stringify(allow), u, JSON.stringify(await c.send({ url: u, method: 'POST', headers: {}, body: Buffer.from('hi') })).slice(0, 200));
  await c.close();
}
server.close();
