// sideloop/express in a real Express app on port 0, over real HTTP: loop errors answered as `sideloop serve` answers
// them (others left to Express), and a loop's shutdown signal that stops the HTTP server before the loop drains.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { test } from 'node:test';
import express from 'express';
import { sideloopErrors } from '../packages/core/src/http/express.ts';
import { closeEveryLoopAfterEach, fixture, runChild } from './helpers.ts';
import { startLoop } from '../packages/core/src/index.ts';

closeEveryLoopAfterEach();

async function listen(app: express.Express, t: { after(fn: () => unknown): void }): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  t.after(() => server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('sideloopErrors(): 503 with Retry-After for a closed loop, 504 for a timeout; other errors go on to Express', async (t) => {
  const loop = await startLoop(fixture('web-app.js'));
  const app = express();
  app.get('/add', async (_request, response) => {
    response.json({ sum: await loop.submit('add', 2, 3) });
  });
  app.get('/slow', async (_request, response) => {
    response.json(await loop.with({ timeout: 50 }).submit('sleep', 10_000));
  });
  app.get('/failing', async (_request, response) => {
    response.json(await loop.submit('fail', 'from the loop'));
  });
  app.use(sideloopErrors());
  app.use((error: Error, _request: express.Request, response: express.Response, _next: express.NextFunction) => {
    response.status(500).json({ appHandled: error.message });
  });
  const url = await listen(app, t);

  assert.deepEqual(await (await fetch(`${url}/add`)).json(), { sum: 5 });

  const slow = await fetch(`${url}/slow`);
  assert.equal(slow.status, 504);
  assert.equal((await slow.json() as { error: { code: string } }).error.code, 'TIMEOUT');

  const failing = await fetch(`${url}/failing`);
  assert.equal(failing.status, 500);
  assert.deepEqual(await failing.json(), { appHandled: 'from the loop' });

  await loop.close();
  const closed = await fetch(`${url}/add`);
  assert.equal(closed.status, 503);
  assert.equal(closed.headers.get('retry-after'), '1');
  assert.equal((await closed.json() as { error: { code: string } }).error.code, 'NOT_READY');
});

test('drainOnShutdown: on SIGTERM the server stops taking connections, requests in flight still reach the loop, then the process ends by the signal', async () => {
  const core = new URL('../packages/core/src/', import.meta.url).href;
  const code = `
    import express from 'express';
    import { startLoop } from '${core}index.ts';
    import { drainOnShutdown } from '${core}http/express.ts';
    const loop = await startLoop(${JSON.stringify(fixture('web-app.js').href)}, { shutdownSignals: ['SIGTERM'] });
    const app = express();
    let server;
    // A request whose loop call comes after the signal: it must still find the loop open.
    app.get('/two-step', async (_request, response) => {
      console.log('got two-step');
      while (server.listening) await new Promise((resolve) => setTimeout(resolve, 5));
      response.json({ sum: await loop.submit('add', 1, 2), state: loop.state });
    });
    server = app.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
    drainOnShutdown(server);
  `;
  let port = 0;
  let answer: Promise<[number, unknown]> | undefined;
  let refused: Promise<string> | undefined;
  const result = await runChild(code, {
    limit: 30_000,
    onStdout(chunk, child) {
      const match = /port (\d+)/.exec(chunk);
      if (match) {
        port = Number(match[1]);
        answer = fetch(`http://127.0.0.1:${port}/two-step`).then(async (response) => [response.status, await response.json()]);
      }
      // One signal only: a second would force the close (requests the polling below got in also print this line).
      if (chunk.includes('got two-step') && refused === undefined) {
        child.kill('SIGTERM');
        // Once the server stopped listening, a new connection is refused.
        refused = (async () => {
          for (;;) {
            try {
              await fetch(`http://127.0.0.1:${port}/two-step`, { signal: AbortSignal.timeout(5000) });
            } catch (error) {
              // Node's fetch puts the code on the cause, Bun's on the error itself; Deno's only says it in the cause.
              const { code, cause } = error as { code?: string; cause?: { code?: string; message?: string } };
              const why = String(cause?.code ?? code ?? (/Connection refused/.test(String(cause?.message)) ? 'ECONNREFUSED' : undefined));
              // A connection the kernel accepted as the listener closed, before its request was read, is closed
              // unanswered: reset (seen on Bun on a busy machine), or "other side closed" in Node's fetch (seen on
              // Node 26 under load, 2 runs in 20). The request never started; try again.
              if (why !== 'ECONNRESET' && why !== 'UND_ERR_SOCKET') return why;
            }
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        })();
      }
    },
  });
  assert.equal(result.signal, 'SIGTERM', result.stderr);
  assert.deepEqual(await answer, [200, { sum: 3, state: 'ready' }]);
  assert.equal(await refused, 'ECONNREFUSED');
});
