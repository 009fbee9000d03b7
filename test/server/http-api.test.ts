// The HTTP API of `sideloop serve`: every route and every error status, on a real server with real loops.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, validateConfig, type RunningServer } from '../../packages/server/src/index.ts';
import { client, connected, delay, http, start } from './helpers.ts';

void describe('HTTP API', () => {
  let server: RunningServer;
  before(async () => {
    server = await start();
  });
  after(() => server.close());

  void test('GET /api/health answers ok once every loop is ready', async () => {
    const res = await http(server, 'GET', '/api/health');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok', reasons: [], loops: 2 });
  });

  void test('GET /api/loops lists loops and pools with their stats', async () => {
    const res = await http(server, 'GET', '/api/loops');
    assert.equal(res.status, 200);
    const [work, calc] = res.body.loops;
    assert.equal(work.name, 'work');
    assert.equal(work.kind, 'loop');
    assert.equal(work.state, 'ready');
    assert.deepEqual(work.expose, ['echo', 'fail', 'sleep', 'steps', 'shout']);
    assert.equal(work.running, 1, 'the ticker service runs');
    for (const key of ['threads', 'pending', 'running', 'completed', 'failed', 'cancelled']) assert.equal(typeof work[key], 'number', key);
    assert.equal(typeof work.eventLoopDelay.p99, 'number');
    assert.equal(calc.name, 'calc');
    assert.equal(calc.kind, 'pool');
  });

  void test('POST a task answers 202 { id }; GET /api/tasks/:id follows it to its value', async () => {
    const res = await http(server, 'POST', '/api/loops/work/tasks', { fn: 'echo', args: [{ a: [1, 2] }] });
    assert.equal(res.status, 202);
    assert.equal(typeof res.body.id, 'string');
    let view;
    do {
      view = (await http(server, 'GET', `/api/tasks/${res.body.id}`)).body;
    } while (view.state !== 'fulfilled' && (await delay(10), true));
    assert.deepEqual(view, { id: res.body.id, loop: 'work', fn: 'echo', state: 'fulfilled', progress: null, value: { a: [1, 2] } });
  });

  void test('?wait=1 answers 200 with the settled task, value or error', async () => {
    const ok = await http(server, 'POST', '/api/loops/calc/tasks?wait=1', { fn: 'echo', args: ['pool'] });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.state, 'fulfilled');
    assert.equal(ok.body.value, 'pool');
    const bad = await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'fail', args: ['boom'] });
    assert.equal(bad.status, 200);
    assert.equal(bad.body.state, 'rejected');
    assert.equal(bad.body.error.code, 'E_FIXTURE');
    assert.equal(bad.body.error.message, 'boom');
  });

  void test('task progress is kept on the task', async () => {
    const res = await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'steps', args: [3, 5] });
    assert.equal(res.body.value, 3);
    const view = await http(server, 'GET', `/api/tasks/${res.body.id}`);
    assert.deepEqual(view.body.progress, { step: 3, of: 3 });
  });

  void test('DELETE cancels a running task (200, again 200 once cancelled), 409 once fulfilled, 404 when unknown', async () => {
    const { body } = await http(server, 'POST', '/api/loops/work/tasks', { fn: 'sleep', args: [60_000] });
    const cancelled = await http(server, 'DELETE', `/api/tasks/${body.id}`);
    assert.equal(cancelled.status, 200);
    assert.deepEqual(cancelled.body, { id: body.id, state: 'cancelled' });
    let view;
    do {
      view = await http(server, 'GET', `/api/tasks/${body.id}`);
    } while (view.body.state !== 'cancelled' && (await delay(10), true));
    assert.equal(view.body.error.code, 'SIDELOOP_CANCELLED');
    assert.equal(view.body.error.message, 'Cancelled by the client');
    const again = await http(server, 'DELETE', `/api/tasks/${body.id}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { id: body.id, state: 'cancelled' });
    const done = await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'echo', args: [1] });
    const late = await http(server, 'DELETE', `/api/tasks/${done.body.id}`);
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'TASK_SETTLED');
    const unknown = await http(server, 'DELETE', '/api/tasks/nope:1');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'UNKNOWN_TASK');
  });

  void test('400 for a bad body', async () => {
    const cases: unknown[] = [[1, 2], { args: [] }, { fn: 'echo', args: 'x' }, { fn: 'no such name!' }, '{"fn":', 'null'];
    for (const body of cases) {
      const res = await http(server, 'POST', '/api/loops/work/tasks', body);
      assert.equal(res.status, 400, `body ${JSON.stringify(body)}`);
      assert.equal(typeof res.body.error.code, 'string');
      assert.equal(typeof res.body.error.message, 'string');
    }
    const text = await http(server, 'POST', '/api/loops/work/tasks', 'fn=echo', { 'content-type': 'text/plain' });
    assert.equal(text.status, 400);
  });

  void test('404 for an unknown loop, function, task or route', async () => {
    const loop = await http(server, 'POST', '/api/loops/nope/tasks', { fn: 'echo' });
    assert.equal(loop.status, 404);
    assert.equal(loop.body.error.code, 'UNKNOWN_LOOP');
    const fn = await http(server, 'POST', '/api/loops/work/tasks', { fn: 'missing' });
    assert.equal(fn.status, 404);
    assert.equal(fn.body.error.code, 'UNKNOWN_FUNCTION');
    const task = await http(server, 'GET', '/api/tasks/work:999999');
    assert.equal(task.status, 404);
    assert.equal(task.body.error.code, 'UNKNOWN_TASK');
    const route = await http(server, 'GET', '/api/nothing');
    assert.equal(route.status, 404);
    assert.equal(route.body.error.code, 'NOT_FOUND');
  });

  void test('403 for a function the loop exports but does not expose, and for reserved ones', async () => {
    for (const fn of ['hidden', 'ticker', 'init']) {
      const res = await http(server, 'POST', '/api/loops/work/tasks', { fn });
      assert.equal(res.status, fn === 'init' ? 404 : 403, fn);
      if (fn !== 'init') assert.equal(res.body.error.code, 'FUNCTION_NOT_EXPOSED');
    }
    const pool = await http(server, 'POST', '/api/loops/calc/tasks', { fn: 'sleep', args: [1] });
    assert.equal(pool.status, 403);
  });

  void test('GET /metrics speaks Prometheus text', async () => {
    await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'echo', args: [1] });
    const res = await http(server, 'GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = res.body as string;
    assert.match(text, /sideloop_tasks\{loop="work",state="completed"\} \d+/);
    assert.match(text, /sideloop_tasks\{loop="work",state="running"\} 1/);
    assert.match(text, /sideloop_task_duration_seconds_bucket\{le="[^"]+",loop="work",fn="echo",state="fulfilled"\}/);
    assert.match(text, /sideloop_queue_depth\{loop="calc"\} 0/);
    assert.match(text, /sideloop_event_loop_delay_seconds\{loop="main",quantile="0.99"\}/);
    assert.match(text, /sideloop_event_loop_delay_seconds\{loop="work",quantile="0.99"\}/);
    assert.match(text, /^sideloop_process_cpu_user_seconds_total \d/m, 'Node\'s process metrics, named once');
    assert.doesNotMatch(text, /process_process_/);
  });

  void test('GET / serves the dashboard and /vendor/* the browser modules', async () => {
    const page = await http(server, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    for (const file of ['preact.mjs', 'preact-hooks.mjs', 'htm.mjs', 'uplot.mjs', 'uplot.css']) {
      const res = await http(server, 'GET', `/vendor/${file}`);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get('content-type') ?? '', file.endsWith('.css') ? /text\/css/ : /javascript/, file);
    }
    assert.equal((await http(server, 'GET', '/vendor/other.js')).status, 404);
    const ioClient = await http(server, 'GET', '/socket.io/socket.io.esm.min.js');
    assert.equal(ioClient.status, 200);
  });

  void test('a service that stops for good makes the server unhealthy, with the reason', async () => {
    const config = validateConfig({
      loops: { work: { module: './work.ts', expose: ['echo'], services: [{ fn: 'brittle', args: [50], restart: 'never' }] } },
    }, new URL('./fixtures', import.meta.url).pathname);
    const other = await startServer({ config, port: 0 });
    try {
      let health;
      do {
        health = await http(other, 'GET', '/api/health');
      } while (health.status === 200 && (await delay(20), true));
      assert.equal(health.status, 503);
      assert.deepEqual(health.body.reasons, ['service "brittle" of loop "work" has stopped for good (rejected)']);
      assert.equal((await http(other, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'echo', args: [1] })).body.value, 1, 'the loop still serves');
    } finally {
      await other.close();
    }
  });

  void test('503 when a loop is not running', async () => {
    const other = await start();
    try {
      await other.loops.targets.get('work')!.target.close();
      const health = await http(other, 'GET', '/api/health');
      assert.equal(health.status, 503);
      assert.equal(health.body.status, 'unhealthy');
      assert.ok(health.body.reasons.includes('loop "work" is closed'), health.body.reasons.join('; '));
      assert.equal(health.body.error.code, 'NOT_READY');
      const submit = await http(other, 'POST', '/api/loops/work/tasks', { fn: 'echo' });
      assert.equal(submit.status, 503);
      const pool = await http(other, 'POST', '/api/loops/calc/tasks?wait=1', { fn: 'echo', args: [2] });
      assert.equal(pool.status, 200, 'the pool still serves');
    } finally {
      await other.close();
    }
  });
});

void describe('HTTP limits and security', () => {
  void test('413 for a body over the limit', async () => {
    const server = await start({ bodyLimit: 1024 });
    try {
      const res = await http(server, 'POST', '/api/loops/work/tasks', { fn: 'echo', args: ['x'.repeat(4096)] });
      assert.equal(res.status, 413);
      assert.equal(res.body.error.code, 'BODY_TOO_LARGE');
    } finally {
      await server.close();
    }
  });

  void test('429 once a client exceeds the rate limit', async () => {
    const server = await start({ rateLimit: { max: 3, timeWindow: 60_000 } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await http(server, 'GET', '/api/health')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const res = await http(server, 'GET', '/api/loops');
      assert.equal(res.body.error.code, 'RATE_LIMITED');
    } finally {
      await server.close();
    }
  });

  void test('Socket.IO submissions are rate-limited too', async () => {
    const server = await start({ rateLimit: { max: 2, timeWindow: 60_000 } });
    const socket = client(server);
    try {
      await connected(socket);
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const reply = await new Promise<{ id?: string; error?: { code: string } }>((resolve) => socket.emit('task:submit', { loop: 'work', fn: 'echo', args: [i] }, resolve));
        codes.push(reply.error?.code ?? 'ok');
      }
      assert.deepEqual(codes, ['ok', 'ok', 'RATE_LIMITED']);
    } finally {
      socket.close();
      await server.close();
    }
  });

  void test('only the most recent settled tasks are kept', async () => {
    const server = await start({ keepTasks: 2 });
    try {
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await http(server, 'POST', '/api/loops/work/tasks?wait=1', { fn: 'echo', args: [i] })).body.id as string);
      assert.equal((await http(server, 'GET', `/api/tasks/${ids[0]}`)).status, 404);
      assert.equal((await http(server, 'GET', `/api/tasks/${ids[1]}`)).body.value, 1);
      assert.equal((await http(server, 'GET', `/api/tasks/${ids[2]}`)).body.value, 2);
    } finally {
      await server.close();
    }
  });

  void test('401 without the token, on HTTP and on the Socket.IO handshake', async () => {
    const token = 'test-token-1234';
    const server = await start({ token });
    try {
      const none = await http(server, 'GET', '/api/loops');
      assert.equal(none.status, 401);
      assert.equal(none.body.error.code, 'UNAUTHORIZED');
      const wrong = await http(server, 'GET', '/metrics', undefined, { authorization: 'Bearer nope-nope-nope' });
      assert.equal(wrong.status, 401);
      const right = await http(server, 'GET', '/api/loops', undefined, { authorization: `Bearer ${token}` });
      assert.equal(right.status, 200);
      assert.equal((await http(server, 'GET', '/')).status, 200, 'the page itself is public');

      const denied = client(server, { reconnection: false, auth: { token: 'wrong-token' } });
      await assert.rejects(connected(denied), /token/);
      denied.close();
      const allowed = client(server, { auth: { token } });
      await connected(allowed);
      allowed.close();
    } finally {
      await server.close();
    }
  });

  void test('any host but loopback needs a token', async () => {
    await assert.rejects(start({ host: '0.0.0.0' }), { name: 'ServerStartError', message: /needs a token/ });
  });

  void test('numeric options: a wrong type is a TypeError, a number out of range (NaN included) a RangeError', async () => {
    await assert.rejects(start({ port: NaN }), { name: 'RangeError', message: 'Expected `port` to be an integer from 0 to 65535, got `NaN`' });
    await assert.rejects(start({ port: 70_000 }), { name: 'RangeError' });
    await assert.rejects(start({ port: '80' as never }), { name: 'TypeError', message: 'Expected `port` to be an integer from 0 to 65535, got `"80"`' });
    await assert.rejects(start({ requestTimeout: -0 }), { name: 'RangeError', message: /got `-0`$/ });
    await assert.rejects(start({ keepTasks: 10n as never }), { name: 'TypeError', message: /got `10n`$/ });
  });
});
