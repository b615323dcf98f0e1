/**
 * The HTTP ceiling: a bare node:http server that reads the whole POST body and answers 202 with a
 * small JSON body (like Sluice's `{"id":"..."}`), nothing else. Runs in its own process; sends
 * { port } to the parent over IPC once listening.
 */
import { createServer } from 'node:http';

let served = 0;
const server = createServer((req, res) => {
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
  });
  req.on('end', () => {
    served += 1;
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(`{"id":"${served}","size":${size}}`);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ ready: true, port: server.address().port }));
process.on('disconnect', () => process.exit(0));
