// Requests that misbehave get the documented answer and hold nothing: a slow body times out (408), a waiting
// client that leaves cancels its task (unless it detached), task ids cannot be guessed, cancels are rate-limited,
// and every error, Fastify's and Node's parser's included, answers { error: { code, message } }.
import assert from 'node:assert/strict';
import { connect as tcp, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startServer, type RunningServer } from '../../../packages/server/src/index.ts';
import type { TaskCancelReply, TaskDoneEvent, TaskSubmitReply } from '../../../packages/core/src/socket-io/events.ts';
import { client, connected, delay, fixtureConfig, http, next, start, type Client } from '../helpers.ts';

/** Opens a connection and writes `head`; resolves with everything the server sends until it closes. */
function exchange(server: RunningServer, head: string): { socket: Socket; reply: Promise<string> } {
  const socket = tcp(server.port, '127.0.0.1');
  socket.write(head);
  const reply = new Promise<string>((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
  return { socket, reply };
}

function parse(text: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, body: body ? JSON.parse(body) : undefined };
}

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('Timed out waiting');
    await delay(20);
  }
}

void describe('requests that misbehave', () => {
  let server: RunningServer;
  before(async () => {
    server = await start({ requestTimeout: 500 });
  });
  after(() => server.close());

  void test('a body that stops half-way gets 408 REQUEST_TIMEOUT and the connection closes', async () => {
    const started = Date.now();
    const { reply } = exchange(server, 'POST /api/loops/work/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"fn":"ec');
    const { status, body } = parse(await reply);
    assert.equal(status, 408);
    assert.deepEqual(body, { error: { code: 'REQUEST_TIMEOUT', message: 'The request did not arrive in time' } });
    assert.ok(Date.now() - started < 10_000);
  });

  void test('a ?wait=1 client that disconnects cancels its task', async () => {
    const body = JSON.stringify({ fn: 'sleep', args: [60_000] });
    const { socket } = exchange(server, `POST /api/loops/work/tasks?wait=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await eventually(async () => {
      const { body: loops } = await http(server, 'GET', '/api/loops');
      return loops.loops[0].running >= 2; // the ticker service and the sleep
    });
    const before = (await http(server, 'GET', '/metrics')).body as string;
    assert.match(before, /sideloop_tasks\{loop="work",state="running"\} 2/);
    socket.destroy();
    await eventually(async () => {
      const text = (await http(server, 'GET', '/metrics')).body as string;
      const match = /sideloop_server_tasks_settled_total\{loop="work",fn="sleep",state="cancelled"\} (\d+)/.exec(text);
      return match !== null && Number(match[1]) >= 1;
    });
  });

  void test('with ?detach=1 the task runs on after its client left', async () => {
    const body = JSON.stringify({ fn: 'steps', args: [2, 100] });
    const kept = async (): Promise<number> => Number(/^sideloop_server_kept_tasks (\d+)$/m.exec((await http(server, 'GET', '/metrics')).body as string)?.[1]);
    const before = await kept();
    const { socket } = exchange(server, `POST /api/loops/work/tasks?wait=1&detach=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    // The client leaves once the server holds its task (on a busy machine that takes more than a fixed pause).
    await eventually(async () => (await kept()) > before);
    socket.destroy();
    await eventually(async () => {
      const text = (await http(server, 'GET', '/metrics')).body as string;
      return /sideloop_server_tasks_settled_total\{loop="work",fn="steps",state="fulfilled"\} 1/.test(text);
    });
  });

  void test('every error answers { error: { code, message } }', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['GET /api/tasks/%ZZ HTTP/1.1\r\nHost: x\r\n\r\n', 'bad percent-encoding', 400, 'BAD_REQUEST'],
      [`GET /api/loops/${'x'.repeat(200)}/tasks HTTP/1.1\r\nHost: x\r\n\r\n`, '200-character loop name', 404, 'NOT_FOUND'],
      [`POST /api/loops/${'x'.repeat(200)}/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`, '200-character loop name', 400, 'BAD_REQUEST'],
      [`GET /api/tasks/${'x'.repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`, '300-character task id', 404, 'UNKNOWN_TASK'],
      [`GET /api/tasks/${'x'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`, '2000-character task id', 404, 'NOT_FOUND'],
      ['POST /api/loops/work/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n', 'empty JSON body', 400, 'BAD_REQUEST'],
      [`GET /api/loops HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`, 'long headers', 431, 'HEADERS_TOO_LARGE'],
      ['GET /assets/..%2f..%2f..%2fpackage.json HTTP/1.1\r\nHost: x\r\n\r\n', 'static traversal, encoded slashes', 404, 'NOT_FOUND'],
      ['GET /assets/../../../package.json HTTP/1.1\r\nHost: x\r\n\r\n', 'static traversal, dot segments', 403, 'FORBIDDEN'],
      ['GET /%2e%2e/package.json HTTP/1.1\r\nHost: x\r\n\r\n', 'static traversal', 403, 'FORBIDDEN'],
      ['POST /api/loops/work/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi', 'wrong content type', 400, 'BAD_REQUEST'],
      ['POST /api/loops/work/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"fn"', 'bad JSON', 400, 'BAD_REQUEST'],
      ['GET\r\n\r\n', 'no request line', 400, 'BAD_REQUEST'],
    ];
    for (const [head, what, status, code] of cases) {
      const { reply } = exchange(server, head.includes('Connection:') ? head : head.replace('\r\n', '\r\nConnection: close\r\n'));
      const answer = parse(await reply);
      assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer)}`);
      const error = (answer.body as { error: { code: string; message: string } }).error;
      assert.equal(error.code, code, what);
      assert.equal(typeof error.message, 'string', what);
      assert.ok(error.message.length <= 300, `${what}: a short message`);
      assert.deepEqual(Object.keys(answer.body as object), ['error'], what);
    }
  });

  void test('a __proto__ key is refused by name', async () => {
    const res = await http(server, 'POST', '/api/loops/work/tasks', '{"fn":"echo","args":[{"__proto__":{"x":1}}]}');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: { code: 'BAD_REQUEST', message: 'The body has a `__proto__` or `constructor.prototype` key, which is refused' } });
  });
});

void describe('task ids and cancels', () => {
  let server: RunningServer;
  const sockets: Client[] = [];
  before(async () => {
    server = await start({ rateLimit: { max: 5, timeWindow: 60_000 } });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await server.close();
  });

  void test('HTTP and Socket.IO tasks have random 128-bit ids', async () => {
    const a = await http(server, 'POST', '/api/loops/work/tasks', { fn: 'echo', args: [1] });
    const b = await http(server, 'POST', '/api/loops/work/tasks', { fn: 'echo', args: [2] });
    for (const id of [a.body.id, b.body.id]) assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a.body.id, b.body.id);
    const socket = client(server);
    sockets.push(socket);
    await connected(socket);
    const done = next<TaskDoneEvent>(socket, 'task:done');
    const reply = await new Promise<TaskSubmitReply>((resolve) => socket.emit('task:submit', { loop: 'work', fn: 'echo', args: [3] }, resolve));
    assert.ok('id' in reply);
    assert.match(reply.id, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(await done, { id: reply.id, state: 'fulfilled', value: 3 }, 'task:done names the task by its public id');
    assert.equal((await http(server, 'GET', `/api/tasks/${reply.id}`)).body.value, 3);
    assert.equal((await http(server, 'GET', '/api/tasks/work:1')).status, 404, 'core ids are not public');
  });

  void test('task:cancel is rate-limited like task:submit', async () => {
    const socket = client(server);
    sockets.push(socket);
    await connected(socket);
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const ack = await new Promise<TaskCancelReply>((resolve) => socket.emit('task:cancel', { id: `guess-${i}` }, resolve));
      codes.push('error' in ack ? ack.error.code : 'ok');
    }
    assert.ok(codes.includes('RATE_LIMITED'), codes.join(', '));
    assert.equal(codes.at(-1), 'RATE_LIMITED');
  });
});

void describe('tokens', () => {
  void test('a token with a space, or too short, is refused at start', async () => {
    await assert.rejects(startServer({ config: fixtureConfig, port: 0, token: 'has a space' }), { name: 'TypeError', message: /token/ });
    await assert.rejects(startServer({ config: fixtureConfig, port: 0, token: 'short' }), { name: 'TypeError' });
  });
});
