// The token check of `sideloop serve` cannot be walked around: every spelling of a protected path that the router
// resolves (percent-encoding, double encoding, case, trailing slashes, dot segments, fragments, absolute-form
// request targets) needs the token, and so does a Socket.IO connection recovered with a saved session id.
import assert from 'node:assert/strict';
import { connect as tcp } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RunningServer } from '../../../packages/server/src/index.ts';
import { client, delay, http, next, start, type Client } from '../helpers.ts';

const TOKEN = 'probe-token-1234';

/** Sends one raw HTTP/1.1 request (any request target, as written) and reads the status and body. */
function raw(server: RunningServer, method: string, target: string, headers: Record<string, string> = {}, body = ''):
  Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcp(server.port, '127.0.0.1');
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    if (body) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

void describe('token check on HTTP', () => {
  let server: RunningServer;
  before(async () => {
    server = await start({ token: TOKEN });
  });
  after(() => server.close());

  const protectedTargets: Array<[string, string]> = [
    ['GET', '/api/loops'],
    ['GET', '/%61pi/loops'],
    ['GET', '/%2561pi/loops'],
    ['GET', '/API/loops'],
    ['GET', '/api/loops/'],
    ['GET', '/api//loops'],
    ['GET', '//api/loops'],
    ['GET', '/x/../api/loops'],
    ['GET', '/./api/loops'],
    ['GET', '/%2e/api/loops'],
    ['GET', '/api/loops#x'],
    ['GET', '/api/loops?x=1'],
    ['GET', '/api/loops;x'],
    ['GET', '/api%2Floops'],
    ['GET', 'http://x/api/loops'],
    ['GET', 'http://127.0.0.1/%61pi/loops'],
    ['GET', '/metrics'],
    ['GET', '/metric%73'],
    ['GET', '/%6detrics'],
    ['GET', '/metrics#'],
    ['GET', '/metrics/'],
    ['GET', '/METRICS'],
    ['GET', 'http://x/metrics'],
    ['HEAD', '/metrics'],
    ['GET', '/api/health'],
    ['GET', '/api/tasks/x'],
    ['DELETE', '/%61pi/tasks/x'],
    ['OPTIONS', '/api/loops'],
  ];

  void test('every spelling of an API path or /metrics is refused without the token, with no data', async () => {
    const leaks: string[] = [];
    for (const [method, target] of protectedTargets) {
      const res = await raw(server, method, target);
      // What the router resolves to a protected route answers 401; a spelling it does not resolve (dot segments
      // fall to the static files, which refuse them with 403) answers an error: never data.
      const refused = [401, 403, 404].includes(res.status) && (method === 'HEAD' || /^\{"error":\{"code":"[A-Z_]+"/.test(res.body));
      if (!refused) leaks.push(`${method} ${target} -> ${res.status} ${res.body.slice(0, 80)}`);
    }
    assert.deepEqual(leaks, []);
    const resolved = ['/%61pi/loops', 'http://x/api/loops', '/metric%73', '/%6detrics', '/metrics#', 'http://x/metrics'];
    for (const target of resolved) assert.equal((await raw(server, 'GET', target)).status, 401, target);
  });

  void test('a submission or a cancel through an encoded path is refused without the token', async () => {
    const body = JSON.stringify({ fn: 'echo', args: ['x'] });
    for (const target of ['/%61pi/loops/work/tasks', '/api/loops/%77ork/tasks', 'http://x/api/loops/work/tasks', '/api/loops/work/tasks/', '/api/./loops/work/tasks']) {
      const res = await raw(server, 'POST', target, {}, body);
      assert.equal(res.status, 401, `POST ${target}: ${res.body}`);
      assert.deepEqual(JSON.parse(res.body), { error: { code: 'UNAUTHORIZED', message: 'A valid token is required: send `Authorization: Bearer <token>`' } });
    }
    const { body: submitted } = await http(server, 'POST', '/api/loops/work/tasks', { fn: 'sleep', args: [60_000] }, { authorization: `Bearer ${TOKEN}` });
    for (const target of [`/%61pi/tasks/${submitted.id}`, `/api/tasks/${submitted.id}/`, `http://x/api/tasks/${submitted.id}`]) {
      assert.equal((await raw(server, 'DELETE', target)).status, 401, `DELETE ${target}`);
    }
    const view = await http(server, 'GET', `/api/tasks/${submitted.id}`, undefined, { authorization: `Bearer ${TOKEN}` });
    assert.equal(view.body.state, 'running', 'the task was not cancelled');
    await http(server, 'DELETE', `/api/tasks/${submitted.id}`, undefined, { authorization: `Bearer ${TOKEN}` });
  });

  void test('with the token, the encoded spellings reach the same routes', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const target of ['/%61pi/loops', 'http://x/api/loops', 'http://127.0.0.1/%61pi/loops']) {
      const res = await raw(server, 'GET', target, auth);
      assert.equal(res.status, 200, `${target}: ${res.body}`);
      assert.ok(Array.isArray(JSON.parse(res.body).loops));
    }
    assert.equal((await raw(server, 'GET', '/metric%73', auth)).status, 200);
  });

  void test('a wrong token, a token in another scheme or a token with trailing junk is refused', async () => {
    for (const authorization of [`Bearer ${TOKEN}x`, `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`, `Bearer`, TOKEN, `Bearer ${TOKEN.toUpperCase()}`]) {
      assert.equal((await raw(server, 'GET', '/api/loops', { authorization })).status, 401, authorization);
    }
  });

  void test('only the dashboard page and its assets are public', async () => {
    assert.equal((await raw(server, 'GET', '/')).status, 200);
    assert.equal((await raw(server, 'GET', '/assets/app.js')).status, 200);
    assert.equal((await raw(server, 'GET', '/vendor/preact.mjs')).status, 200);
    assert.equal((await raw(server, 'GET', '/socket.io/socket.io.esm.min.js')).status, 200);
    const unknown = await raw(server, 'GET', '/api/nothing-here');
    assert.ok([401, 404].includes(unknown.status), `unknown API path: ${unknown.status}`);
  });
});

void describe('token check on Socket.IO', () => {
  let server: RunningServer;
  const sockets: Client[] = [];
  before(async () => {
    server = await start({ token: TOKEN });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await server.close();
  });

  /** Connects with `token`, waits until a relayed `tick` gave the client a recovery offset. */
  async function connectWithOffset(token: string): Promise<Client> {
    const socket = client(server, { auth: { token } });
    sockets.push(socket);
    await next(socket, 'tick');
    return socket;
  }

  /** Drops the transport; the client reconnects by itself, offering its session id and offset. */
  function dropAndReconnect(socket: Client): Promise<{ connected: true; recovered: boolean } | { connected: false; error: Error }> {
    return new Promise((resolve) => {
      socket.once('connect', () => resolve({ connected: true, recovered: socket.recovered }));
      socket.once('connect_error', (error) => resolve({ connected: false, error }));
      socket.io.engine.close();
    });
  }

  void test('a recovered connection keeps working with the right token', async () => {
    const socket = await connectWithOffset(TOKEN);
    const outcome = await dropAndReconnect(socket);
    assert.deepEqual(outcome, { connected: true, recovered: true });
  });

  void test('a saved session id is no credential: recovery with a wrong token is refused', async () => {
    const socket = await connectWithOffset(TOKEN);
    socket.auth = { token: 'wrong-token-99' };
    const outcome = await dropAndReconnect(socket);
    assert.equal(outcome.connected, false, 'the recovered connection was let in');
    assert.equal((outcome as { error: Error & { data?: { code?: string } } }).error.data?.code, 'UNAUTHORIZED');
    socket.io.reconnection(false);
    socket.close();
    await delay(10);
  });
});
