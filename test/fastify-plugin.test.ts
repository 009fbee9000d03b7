// sideloop/fastify in a real Fastify app on port 0, called over real HTTP: loops and pools ready before listen,
// `fastify.loops`, loop errors answered as `sideloop serve` answers them, the app's own errors left alone, and the
// loops closed with the app.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import sideloop from '../packages/core/src/http/fastify.ts';
import { eventually, fixture, liveLoops, runChild } from './helpers.ts';

async function app(t: { after(fn: () => unknown): void }, options: Parameters<typeof sideloop>[1]) {
  const fastify = Fastify();
  t.after(() => fastify.close());
  await fastify.register(sideloop, options);
  fastify.get('/add', async () => ({ sum: await fastify.loops.echo!.submit('add', 2, 3) }));
  fastify.get('/square', async () => ({ value: await fastify.loops.cpu!.submit('add', 40, 2) }));
  fastify.get('/slow', async () => fastify.loops.echo!.with({ timeout: 50 }).submit('sleep', 10_000));
  fastify.get('/own', async () => {
    throw Object.assign(new Error('the app said no'), { statusCode: 418 });
  });
  fastify.get('/wait', async () => fastify.loops.echo!.submit('sleep', 300));
  fastify.get('/failing', async () => fastify.loops.echo!.submit('fail', 'from the loop'));
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  const { port } = fastify.server.address() as { port: number };
  return { fastify, url: `http://127.0.0.1:${port}` };
}

test('loops and pools from options are ready before listen and answer through fastify.loops', async (t) => {
  const { fastify, url } = await app(t, {
    loops: { echo: { module: fixture('web-app.js'), initArgs: ['a'] } },
    pools: { cpu: { module: fixture('pool-work.js'), maxThreads: 2 } },
  });
  assert.equal(fastify.loops.echo!.state, 'ready');
  assert.deepEqual(fastify.loops.echo!.initValue, { label: 'a' });
  assert.deepEqual(await (await fetch(`${url}/add`)).json(), { sum: 5 });
  assert.deepEqual(await (await fetch(`${url}/square`)).json(), { value: 42 });
});

test('loop errors answer 503/504 as sideloop serve does; the app\'s own errors and task errors are left to Fastify', async (t) => {
  const { fastify, url } = await app(t, { loops: { echo: { module: fixture('web-app.js') } }, pools: { cpu: { module: fixture('pool-work.js') } } });

  const slow = await fetch(`${url}/slow`);
  assert.equal(slow.status, 504);
  assert.equal((await slow.json() as { error: { code: string } }).error.code, 'TIMEOUT');

  const own = await fetch(`${url}/own`);
  assert.equal(own.status, 418);
  assert.equal((await own.json() as { message: string }).message, 'the app said no');

  const failing = await fetch(`${url}/failing`);
  assert.equal(failing.status, 500);

  await fastify.loops.echo!.close();
  const closed = await fetch(`${url}/add`);
  assert.equal(closed.status, 503);
  assert.equal(closed.headers.get('retry-after'), '1');
  const body = await closed.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'NOT_READY');
  assert.match(body.error.message, /closed/);
});

test('close() closes the loops and pools after the requests in flight; a failed init fails ready() and leaves no thread', async (t) => {
  const before = liveLoops();
  const { fastify, url } = await app(t, { loops: { echo: { module: fixture('web-app.js') } }, pools: { cpu: { module: fixture('pool-work.js') } } });
  assert.equal(liveLoops(), before + 2);
  const inFlight = fetch(`${url}/wait`).then(async (response) => [response.status, await response.json()]);
  await eventually(() => (fastify.loops.echo as { stats(): { running: number } }).stats().running === 1, 'the request reached the loop');
  await fastify.close();
  assert.deepEqual(await inFlight, [200, { slept: 300 }]);
  assert.equal(fastify.loops.echo!.state, 'closed');
  assert.equal(fastify.loops.cpu!.state, 'closed');
  assert.equal(liveLoops(), before);

  const broken = Fastify();
  t.after(() => broken.close());
  await assert.rejects(async () => {
    await broken.register(sideloop, {
      loops: { echo: { module: fixture('web-app.js') }, bad: { module: fixture('init-throws.js'), initArgs: ['no session'] } },
    });
  }, { name: 'LoopInitError' });
  assert.equal(liveLoops(), before);
});

test('bad options are refused before any thread starts, naming the key', async (t) => {
  const before = liveLoops();
  const cases: [unknown, RegExp][] = [
    [{ loops: { echo: {} } }, /Expected `loops.echo.module` to be a path or URL, got `undefined`/],
    [{ loops: { echo: { module: fixture('web-app.js'), readyTimeout: -1 } } }, /readyTimeout/],
    [{ loops: { x: { module: fixture('web-app.js') } }, pools: { x: { module: fixture('web-app.js') } } }, /both named 'x'/],
    [{ loop: {} }, /Unknown option `loop`/],
    [{ errors: 'yes' }, /Expected `errors` to be a boolean/],
  ];
  for (const [options, message] of cases) {
    const fastify = Fastify();
    t.after(() => fastify.close());
    await assert.rejects(async () => {
      await fastify.register(sideloop, options as never);
    }, message);
  }
  assert.equal(liveLoops(), before);
});

test('a loop\'s shutdown signal closes the app first: requests in flight still reach the loop, then the process ends by the signal', async () => {
  const code = `
    import Fastify from 'fastify';
    import sideloop from ${JSON.stringify(new URL('../packages/core/src/http/fastify.ts', import.meta.url).href)};
    const app = Fastify();
    await app.register(sideloop, { loops: { web: { module: ${JSON.stringify(fixture('web-app.js').href)}, shutdownSignals: ['SIGTERM'] } } });
    // A request whose loop call comes after the signal: it must still find the loop open.
    app.get('/two-step', async () => {
      console.log('got two-step');
      while (app.server.listening) await new Promise((resolve) => setTimeout(resolve, 5));
      return { sum: await app.loops.web.submit('add', 1, 2), state: app.loops.web.state };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    console.log('port ' + app.server.address().port);
  `;
  let answer: Promise<[number, unknown]> | undefined;
  let signalled = false;
  const result = await runChild(code, {
    limit: 30_000,
    onStdout(chunk, child) {
      const match = /port (\d+)/.exec(chunk);
      if (match) answer = fetch(`http://127.0.0.1:${match[1]}/two-step`).then(async (response) => [response.status, await response.json()]);
      if (chunk.includes('got two-step') && !signalled) {
        signalled = true;
        child.kill('SIGTERM');
      }
    },
  });
  assert.equal(result.signal, 'SIGTERM', result.stderr);
  assert.deepEqual(await answer, [200, { sum: 3, state: 'ready' }]);
});
