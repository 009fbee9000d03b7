// Plain node:http: a CPU pool behind a request handler, loop errors answered as `sideloop serve` answers them, and
// a shutdown that stops taking requests before the pool drains.
// `node examples/06-node-http/main.js` calls itself once and exits; add `--serve` to keep it running.
import { createServer } from 'node:http';
import { startPool } from 'sideloop';
import { drainOnShutdown, sideloopErrors } from 'sideloop/express';

const pool = await startPool(new URL('./loop.js', import.meta.url), { maxThreads: 2, shutdownSignals: ['SIGINT', 'SIGTERM'] });
const answerLoopErrors = sideloopErrors(); // the (error, request, response, next) shape works without Express too

async function handle(request, response) {
  try {
    const n = Number(new URL(request.url, 'http://localhost').searchParams.get('n') ?? 30);
    const value = await pool.with({ timeout: 2000 }).submit('fib', n);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ n, value }));
  } catch (error) {
    answerLoopErrors(error, request, response, () => {
      response.statusCode = 500;
      response.end('Internal error');
    });
  }
}

const server = createServer((request, response) => void handle(request, response));
server.listen(Number(process.env.PORT ?? (process.argv.includes('--serve') ? 3000 : 0)), '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
drainOnShutdown(server);
const url = `http://127.0.0.1:${server.address().port}`;
console.log(`listening on ${url}`);

if (!process.argv.includes('--serve')) {
  console.log('fib:', await (await fetch(`${url}/?n=25`)).json());
  const slow = await fetch(`${url}/?n=45`); // over the 2 s timeout: 504; fib stops at its next check and the thread stays
  console.log('slow:', slow.status, (await slow.json()).error.code);
  server.close();
  await pool.close();
}
