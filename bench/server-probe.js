#!/usr/bin/env node
// A security probe of `sideloop serve`, replayed on loopback, bounded in count and time (about 2 minutes; --quick
// about 35 s). The server runs in a child process (bench/fixtures/probe-server.js, token set) so its RSS is its own;
// RSS is read from /proc/<pid>/status every 250 ms. Every load generator runs in a process of its own (`--role`).
//   1. Bad inputs, one request each (about 225, 5 s timeout each): auth bypass attempts without the token (encoded,
//      double-encoded, case, trailing-slash, dot-segment, `;`/`#` suffixed and absolute-form targets, wrong
//      tokens), bad JSON, `__proto__` keys, wrong content types, bodies over 1 MiB, bad `args`, unknown, unexposed
//      and long names, bad escapes, headers over 16 KB, malformed request lines, static traversal, Socket.IO
//      handshakes with a wrong token and bad Socket.IO messages. Counts bypasses, 5xx, resets/hangs, error bodies
//      not shaped `{ error: { code, message } }`, and files served from outside the dashboard.
//   2. Slow consumer: a Socket.IO client submits 600 echo tasks of 256 KB each and never reads for 20 s (--quick:
//      8 s), then leaves. Peak RSS, and RSS 30 s (--quick: 10 s) after it left against the baseline before it came.
//   3. Soak: 200 authorized POST /api/loops/work/tasks?wait=1 per second for 60 s (--quick: 10 s): p99, errors.
// Prints one table; exits 1 on a bypass, a 5xx, a traversal leak, a peak RSS over 400 MB or RSS after the slow
// consumer more than 50 MB above its baseline; 2 when the run itself could not be made (server down, authorized
// control requests failing). Writes bench/results/server-probe.json (--quick writes nothing unless --save).
//
//   node bench/server-probe.js [--quick] [--save]
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { describeMachine } from './lib/machine.js';

const TOKEN = 'probe-token-123';
const LIMITS = { bypasses: 0, fiveXx: 0, peakRssMB: 400, rssGrowthMB: 50 };
const REQUEST_TIMEOUT_MS = 5000;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    save: { type: 'boolean', default: false },
    role: { type: 'string' },
    url: { type: 'string' },
    // Role parameters, set by the main process.
    count: { type: 'string' },
    size: { type: 'string' },
    'pause-ms': { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
  },
});
const quick = values.quick;
const PLAN = {
  slowCount: 600,
  slowSize: 256 * 1024,
  slowPauseS: quick ? 8 : 20,
  afterS: quick ? 10 : 30,
  soakRate: 200,
  soakS: quick ? 10 : 60,
  warmupS: quick ? 1 : 3,
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A bound for a race: does not keep the process alive once the race is decided. */
const grace = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());
const now = () => performance.now();

// Every role process ends by itself, and with its parent.
if (values.role) {
  process.on('disconnect', () => process.exit(0));
  const bound = { probes: 120, sio: 90, soak: Number(values.seconds ?? 0) + 30 }[values.role] ?? 60;
  setTimeout(() => {
    process.stderr.write(`server-probe ${values.role}: still running after ${bound} s, stopping\n`);
    process.exit(3);
  }, bound * 1000).unref();
}

// ---------------------------------------------------------------------------------------------------------------
// Clients: one request per connection, nothing normalized, a response read to its end (or to 64 KB of body).

/** Parses a raw HTTP/1.x response; `complete` once the body is all there (by length, chunks, or the close). */
function parseResponse(buffer, closed) {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0]);
  if (!match) return undefined;
  const headers = {};
  for (const line of lines.slice(1)) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  const status = Number(match[1]);
  if (status === 100) return parseResponse(buffer.subarray(end + 4), closed);
  let body = buffer.subarray(end + 4);
  let complete = closed;
  if (headers['content-length'] !== undefined) complete ||= body.length >= Number(headers['content-length']);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const text = body.toString('latin1');
    complete ||= text.endsWith('0\r\n\r\n');
    if (complete) {
      const parts = [];
      let at = 0;
      for (;;) {
        const eol = text.indexOf('\r\n', at);
        const size = parseInt(text.slice(at, eol), 16);
        if (!(size > 0)) break;
        parts.push(body.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    }
  } else if (status === 204 || status === 304) complete = true;
  return { status, headers, body, complete };
}

/** Writes `head` (and `body` in 64 KB pieces, stopping once an answer starts) on a raw socket; reads the answer. */
function rawRequest(port, head, body) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    let received = 0;
    let settled = false;
    // closed: the server ended the connection; error: a socket error code, or 'timeout'.
    const finish = ({ closed = false, error } = {}) => {
      if (settled) return;
      const parsed = parseResponse(Buffer.concat(chunks), closed || error !== undefined);
      if (!closed && error === undefined && !parsed?.complete) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (parsed) resolve({ status: parsed.status, headers: parsed.headers, body: parsed.body.subarray(0, 65536) });
      else if (error === 'timeout') resolve({ outcome: 'hang', error: received ? 'no complete status line' : 'no answer' });
      else if (error !== undefined) resolve({ outcome: 'reset', error });
      else resolve({ outcome: 'closed', error: received ? `unparsable answer: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 60))}` : 'closed without an answer' });
    };
    const timer = setTimeout(() => finish({ error: 'timeout' }), REQUEST_TIMEOUT_MS);
    socket.on('data', (chunk) => {
      received += chunk.length;
      if (received <= 1 << 20) chunks.push(chunk);
      finish();
    });
    socket.on('end', () => finish({ closed: true }));
    socket.on('close', () => finish({ closed: true }));
    socket.on('error', (error) => finish({ error: error.code ?? error.message }));
    const send = async () => {
      socket.write(head);
      if (!body) return;
      // A server that judges the body by its declared length answers before it comes: give it the chance.
      await sleep(300);
      for (let at = 0; at < body.length && received === 0 && !socket.destroyed; at += 65536) {
        if (!socket.write(body.subarray(at, at + 65536))) {
          await new Promise((resolve) => {
            socket.once('drain', resolve);
            socket.once('close', resolve);
          });
        }
      }
    };
    socket.on('connect', () => void send());
  });
}

/** One request with node's http client: the path goes out exactly as given (no normalization). */
function httpRequest(port, { method = 'GET', path, headers = {}, body }) {
  return new Promise((resolve) => {
    let settled = false;
    let response;
    const chunks = [];
    let size = 0;
    const done = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result);
    };
    const answer = () => ({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) });
    const request = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false });
    const timer = setTimeout(() => done(response ? answer() : { outcome: 'hang', error: 'no answer' }), REQUEST_TIMEOUT_MS);
    request.on('response', (res) => {
      response = res;
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size <= 65536) chunks.push(chunk);
      });
      res.on('end', () => done(answer()));
      res.on('error', () => done(answer()));
    });
    request.on('error', (error) => done(response ? answer() : { outcome: 'reset', error: error.code ?? error.message }));
    request.end(body);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The probes. Each: { name, category, via: 'http' | 'raw' | 'sio', noToken, guards?, leak?, ...request }.
// `guards`: the protected resource the target means ('api', 'metrics', 'socket.io'); a 2xx there without the token
// is a bypass, and so is an answer only the route's handler gives (it ran without the token).

const HANDLER_CODES = new Set(['UNKNOWN_TASK', 'UNKNOWN_LOOP', 'UNKNOWN_FUNCTION', 'FUNCTION_NOT_EXPOSED', 'TASK_SETTLED', 'QUEUE_FULL']);
const LEAKS = /"devDependencies"|root:[^:\n]*:0:0:|export async function startServer|\[core\]\s|repositoryformatversion/;

function buildProbes(taskId) {
  const probes = [];
  const auth = { authorization: `Bearer ${TOKEN}` };
  const json = { 'content-type': 'application/json' };
  const add = (category, list) => {
    for (const probe of list) probes.push({ category, via: 'http', noToken: !probe.headers?.authorization?.includes(TOKEN), ...probe });
  };
  const echoBody = JSON.stringify({ fn: 'echo', args: ['bypass'] });
  const task = `/tasks/${taskId}`;

  // 1. Auth bypass: the protected routes under other spellings, without the token. `taskId` is a task that is still
  // running: reading or cancelling it without the token answers 200.
  add('auth-bypass', [
    ...['/api/loops', '/%61pi/loops', '/a%70i/loops', '/api/%6coops', '/api%2floops', '/%2561pi/loops', '/API/loops',
      '/api/loops/', '//api/loops', '/./api/loops', '/x/../api/loops', '/api/x/../loops', '/%2e/api/loops',
      '/x/%2e%2e/api/loops', '/api/loops;x=1', '/api/loops#', '/api/loops%23', '/api/loops%00', '/\\api/loops',
      '/%5capi/loops', '/%61pi/health', '/api/health#', `/api${task}`, `/%61pi${task}`, `/api${task};`, `/api${task}#`,
      `//api${task}`, `/x/../api${task}`]
      .map((path) => ({ name: `GET ${path}`, path, guards: 'api' })),
    ...['/metrics', '/metric%73', '/%6detrics', '/%256detrics', '/metrics#', '/metrics;x', '/metrics/', '//metrics',
      '/./metrics', '/x/../metrics', '/METRICS', '/metrics%23', '/metrics%00', '/\\metrics']
      .map((path) => ({ name: `GET ${path}`, path, guards: 'metrics' })),
    ...['/api/loops', '/%61pi/loops', '/metrics#']
      .map((path) => ({ name: `HEAD ${path}`, method: 'HEAD', path, guards: path.includes('metric') ? 'metrics' : 'api' })),
    ...['/api/loops/work/tasks', '/%61pi/loops/work/tasks', '/%61pi/loops/work/tasks?wait=1', '/%2561pi/loops/work/tasks',
      '/API/loops/work/tasks', '//api/loops/work/tasks', '/x/../api/loops/work/tasks', '/api/loops/work/tasks;',
      '/api/loops/work/tasks#', '/%61pi/loops/calc/tasks']
      .map((path) => ({ name: `POST ${path}`, method: 'POST', path, headers: json, body: echoBody, guards: 'api' })),
    ...[`/api${task}`, `/%61pi${task}`, `/api${task};`, `/api${task}#`, `//api${task}`, `/%2561pi${task}`]
      .map((path) => ({ name: `DELETE ${path}`, method: 'DELETE', path, guards: 'api' })),
  ]);

  // 2. Wrong credentials on the plain routes.
  const wrong = (what, headers) => ({ name: `GET /api/loops, ${what}`, path: '/api/loops', headers, guards: 'api' });
  add('auth-header', [
    wrong('Bearer', { authorization: 'Bearer' }), wrong('Bearer wrong', { authorization: 'Bearer wrong-token-xyz' }),
    wrong('Bearer token minus a char', { authorization: 'Bearer probe-token-12' }),
    wrong('Bearer token plus a char', { authorization: 'Bearer probe-token-1234' }),
    wrong('Bearer upper-cased token', { authorization: 'Bearer PROBE-TOKEN-123' }),
    wrong('Basic', { authorization: `Basic ${Buffer.from('sideloop:wrong').toString('base64')}` }),
    wrong('X-Forwarded-For loopback', { 'x-forwarded-for': '127.0.0.1' }), wrong('Forwarded for loopback', { forwarded: 'for=127.0.0.1' }),
    wrong('Host localhost', { host: 'localhost' }), wrong('cookie token', { cookie: 'token=wrong-token-xyz' }),
  ]);
  add('auth-header', ['/api/loops?token=wrong-token-xyz', '/metrics?token=wrong-token-xyz']
    .map((path) => ({ name: `GET ${path}`, path, guards: path.startsWith('/metrics') ? 'metrics' : 'api' })));

  // 3. Malformed requests and absolute-form targets, on a raw socket, without the token.
  const raw = (name, head, extra = {}) => probes.push({ name, category: 'malformed', via: 'raw', noToken: true, head, ...extra });
  const line = (requestLine, more = '') => `${requestLine}\r\nHost: 127.0.0.1\r\n${more}Connection: close\r\n\r\n`;
  const postHead = (target, more) => `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${more}Connection: close\r\n\r\n`;
  raw('absolute-form GET http://x/api/loops', line('GET http://x/api/loops HTTP/1.1'), { guards: 'api' });
  raw('absolute-form GET http://x/%61pi/loops', line('GET http://x/%61pi/loops HTTP/1.1'), { guards: 'api' });
  raw('absolute-form GET https://x/api/health', line('GET https://x/api/health HTTP/1.1'), { guards: 'api' });
  raw('absolute-form GET http://x/metrics', line('GET http://x/metrics HTTP/1.1'), { guards: 'metrics' });
  raw('absolute-form GET http://x:1/metrics#', line('GET http://x:1/metrics# HTTP/1.1'), { guards: 'metrics' });
  raw('absolute-form POST http://x/api/loops/work/tasks', postHead('http://x/api/loops/work/tasks', `Content-Length: ${echoBody.length}\r\n`) + echoBody, { guards: 'api' });
  raw(`absolute-form DELETE http://x/api${task}`, line(`DELETE http://x/api${task} HTTP/1.1`), { guards: 'api' });
  raw('no Host header', 'GET /api/loops HTTP/1.1\r\nConnection: close\r\n\r\n', { guards: 'api' });
  raw('HTTP/1.0 without Host', 'GET /api/loops HTTP/1.0\r\n\r\n', { guards: 'api' });
  raw('double space in request line', line('GET  /api/loops HTTP/1.1'), { guards: 'api' });
  raw('HTTP/9.9', line('GET /api/loops HTTP/9.9'), { guards: 'api' });
  raw('bare LF line ends', 'GET /api/loops HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n', { guards: 'api' });
  raw('space in target', line('GET /api/lo ops HTTP/1.1'));
  raw('NUL in target', line('GET /api/loops\0 HTTP/1.1'), { guards: 'api' });
  raw('lowercase method', line('get /api/loops HTTP/1.1'), { guards: 'api' });
  raw('unknown method', line('FOO /api/loops HTTP/1.1'), { guards: 'api' });
  raw('CONNECT', 'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n');
  raw('HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  raw('TLS ClientHello bytes', Buffer.from(`1603010200010001fc0303${'00'.repeat(64)}`, 'hex'));
  raw('header without colon', line('GET /api/loops HTTP/1.1', 'NoColonHere\r\n'), { guards: 'api' });
  raw('Content-Length and Transfer-Encoding (smuggling)', `${postHead('/api/loops/work/tasks', 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n')}0\r\n\r\nGET /api/loops HTTP/1.1\r\nHost: x\r\n\r\n`, { guards: 'api' });
  raw('two Content-Length', `${postHead('/api/loops/work/tasks', 'Content-Length: 2\r\nContent-Length: 40\r\n')}{}`, { guards: 'api' });
  raw('negative Content-Length', postHead('/api/loops/work/tasks', 'Content-Length: -1\r\n'), { guards: 'api' });
  raw('bad chunk size', `${postHead('/api/loops/work/tasks', 'Transfer-Encoding: chunked\r\n')}zz\r\n{}\r\n0\r\n\r\n`, { guards: 'api' });
  raw('100 KB target', line(`GET /api/loops?${'a'.repeat(100_000)} HTTP/1.1`), { guards: 'api' });

  // 4. Headers over 16 KB (raw socket), with and without the token.
  const headers = (name, more, withToken = false) => probes.push({
    name, category: 'huge-headers', via: 'raw', noToken: !withToken, guards: 'api',
    head: line('GET /api/loops HTTP/1.1', `${withToken ? `Authorization: Bearer ${TOKEN}\r\n` : ''}${more}`),
  });
  headers('one 20 KB header', `X-Pad: ${'a'.repeat(20_000)}\r\n`);
  headers('one 20 KB header, with the token', `X-Pad: ${'a'.repeat(20_000)}\r\n`, true);
  headers('2000 small headers', Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join(''));
  headers('20 KB Authorization', `Authorization: Bearer ${'a'.repeat(20_000)}\r\n`);
  headers('64 KB Cookie', `Cookie: ${'c=1; '.repeat(13_000)}\r\n`);
  headers('200 KB header', `X-Pad: ${'b'.repeat(200_000)}\r\n`);

  // 5. Bad task requests, with the token: bodies, content types, sizes, names, escapes.
  const post = (name, body, { path = '/api/loops/work/tasks', type = 'application/json', extra = {} } = {}) => ({
    name, method: 'POST', path, body, headers: { ...auth, ...(type ? { 'content-type': type } : {}), ...extra },
  });
  add('bad-json', [
    post('truncated object', '{'), post('truncated value', '{"fn":'), post('trailing comma', '{"fn":"echo",}'),
    post('empty body', ''), post('BOM first', '\ufeff{"fn":"echo"}'), post('NaN', '{"fn":"echo","args":[NaN]}'),
    post('a JSON string', '"just a string"'), post('a JSON array', '[]'), post('null', 'null'),
    post('nesting 50k deep', `{"fn":"echo","args":[${'['.repeat(50_000)}${']'.repeat(50_000)}]}`),
    post('lone surrogate', '{"fn":"echo","args":["\\ud800"]}'),
    post('invalid UTF-8', Buffer.from([0x7b, 0x22, 0x66, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
  ]);
  add('proto', [
    post('__proto__ holding fn', '{"__proto__":{"fn":"echo"}}'),
    post('__proto__ next to fn', '{"fn":"echo","args":[],"__proto__":{"polluted":true}}'),
    post('constructor.prototype', '{"constructor":{"prototype":{"polluted":true}},"fn":"echo"}'),
    post('__proto__ in an arg', '{"fn":"echo","args":[{"__proto__":{"polluted":true}}]}'),
    ...['__proto__', 'constructor', 'toString'].map((fn) => post(`fn ${fn}`, JSON.stringify({ fn, args: [] }))),
    ...['__proto__', 'constructor'].map((loop) => post(`loop ${loop}`, JSON.stringify({ fn: 'echo', args: [1] }), { path: `/api/loops/${loop}/tasks` })),
    { name: 'GET /api/tasks/__proto__', path: '/api/tasks/__proto__', headers: auth },
    { name: 'DELETE /api/tasks/constructor', method: 'DELETE', path: '/api/tasks/constructor', headers: auth },
  ]);
  add('content-type', [
    post('text/plain', echoBody, { type: 'text/plain' }),
    post('form-urlencoded', 'fn=echo&args=1', { type: 'application/x-www-form-urlencoded' }),
    post('multipart', '--x\r\nContent-Disposition: form-data; name="fn"\r\n\r\necho\r\n--x--\r\n', { type: 'multipart/form-data; boundary=x' }),
    post('no content type', echoBody, { type: undefined }),
    post('json, charset utf-16', echoBody, { type: 'application/json; charset=utf-16' }),
    post('application/jsonx', echoBody, { type: 'application/jsonx' }),
    post('APPLICATION/JSON (allowed)', echoBody, { type: 'APPLICATION/JSON' }),
    post('application/vnd.api+json', echoBody, { type: 'application/vnd.api+json' }),
    post('application/xml', '<task fn="echo"/>', { type: 'application/xml' }),
    post('gzip bomb (10 KB to 10 MB)', gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20)), { extra: { 'content-encoding': 'gzip' } }),
  ]);
  const sized = (bytes) => {
    const frame = '{"fn":"echo","args":[""]}';
    return Buffer.from(`{"fn":"echo","args":["${'a'.repeat(bytes - frame.length)}"]}`);
  };
  const bigHead = (length) => `POST /api/loops/work/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n${length === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\nConnection: close\r\n\r\n`;
  const bigPost = (name, body, head = bigHead(body.length)) => probes.push({ name, category: 'body-size', via: 'raw', noToken: false, body, head });
  bigPost('1 MiB + 1 byte', sized(1024 * 1024 + 1));
  bigPost('2 MiB', sized(2 * 1024 * 1024));
  bigPost('8 MiB', sized(8 * 1024 * 1024));
  bigPost('16 MiB declared, 1 KB sent', Buffer.alloc(1024, 0x20), bigHead(16 * 1024 * 1024));
  const chunked = sized(4 * 1024 * 1024);
  bigPost('4 MiB chunked', Buffer.concat([Buffer.from(`${chunked.length.toString(16)}\r\n`), chunked, Buffer.from('\r\n0\r\n\r\n')]), bigHead(undefined));
  bigPost('1 MiB - 64 bytes (allowed)', sized(1024 * 1024 - 64));
  add('args', [
    ...[['a string', '"x"'], ['an object', '{}'], ['array-like', '{"0":1,"length":1}']]
      .map(([what, args]) => post(`args ${what}`, `{"fn":"echo","args":${args}}`)),
    post('33 args', JSON.stringify({ fn: 'echo', args: Array.from({ length: 33 }, (_, i) => i) })),
    post('32 args (allowed)', JSON.stringify({ fn: 'echo', args: Array.from({ length: 32 }, (_, i) => i) })),
    post('100,000 args', JSON.stringify({ fn: 'echo', args: new Array(100_000).fill(0) })),
  ]);
  add('names', [
    post('unknown loop', echoBody, { path: '/api/loops/nope/tasks' }),
    post('unknown function', JSON.stringify({ fn: 'nope', args: [] })),
    post('function not exposed', JSON.stringify({ fn: 'hidden', args: [] })),
    post('function not exposed, on the pool', JSON.stringify({ fn: 'hidden', args: [] }), { path: '/api/loops/calc/tasks' }),
    post('empty fn', JSON.stringify({ fn: '', args: [] })),
    post('fn with a path', JSON.stringify({ fn: '../probe-work.js', args: [] })),
    post('fn 10,000 characters', JSON.stringify({ fn: 'f'.repeat(10_000), args: [] })),
    post('loop name 200 characters', echoBody, { path: `/api/loops/${'l'.repeat(200)}/tasks` }),
    post('loop name %ZZ', echoBody, { path: '/api/loops/%ZZ/tasks' }),
    post('loop name %00', echoBody, { path: '/api/loops/%00/tasks' }),
    post('wait[]=1', echoBody, { path: '/api/loops/work/tasks?wait[]=1' }),
    post('5000 query parameters', echoBody, { path: `/api/loops/work/tasks?${'a=1&'.repeat(5000)}` }),
    ...['/api/tasks/%ZZ', '/api/tasks/%00', `/api/tasks/${'i'.repeat(8000)}`, '/api/tasks/..%2f..%2fpackage.json']
      .map((path) => ({ name: `GET ${path.slice(0, 40)}`, path, headers: auth })),
    { name: 'DELETE /api/tasks/%ZZ', method: 'DELETE', path: '/api/tasks/%ZZ', headers: auth },
    { name: 'PUT /api/loops/work/tasks', method: 'PUT', path: '/api/loops/work/tasks', headers: { ...auth, ...json }, body: echoBody },
    { name: 'DELETE /api/loops', method: 'DELETE', path: '/api/loops', headers: auth },
  ]);

  // 6. Static files: traversal out of the dashboard folder, without the token.
  add('static', [
    '/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json',
    ...[3, 4].flatMap((n) => [`/${'..%2f'.repeat(n)}package.json`, `/assets/${'%2e%2e%2f'.repeat(n)}package.json`,
      `/${'../'.repeat(n)}package.json`, `/${'..%5c'.repeat(n)}package.json`]),
    '/vendor/..%2f..%2f..%2f..%2fpackage.json', '/%252e%252e/%252e%252e/%252e%252e/package.json',
    '/index.html/../../../package.json', '/.%2e/.%2e/.%2e/package.json', '/../../../../../../etc/passwd',
    '/assets/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd', '/..%2fstart-server.ts', '/..%2f..%2f..%2f.git%2fconfig',
  ].map((path) => ({ name: `GET ${path}`, path, leak: true })));

  // 7. Engine.IO over plain HTTP, without the token (its answers are Engine.IO's own, not the API's).
  add('engine.io', ['/socket.io/?EIO=3&transport=polling', '/socket.io/?EIO=4&transport=bogus', '/socket.io/?EIO=4&transport=websocket',
    '/socket.io/?EIO=4&transport=polling&sid=nope'].map((path) => ({ name: `GET ${path}`, path })));

  // 8. Socket.IO handshakes with a wrong token, and an unknown namespace.
  const handshake = (transport, what, options, namespace) => probes.push({
    name: `Socket.IO ${transport}, ${what}`, category: 'socket.io-auth', via: 'sio', noToken: true, guards: 'socket.io', transport, options, namespace,
  });
  handshake('websocket', 'no auth', {});
  handshake('websocket', 'empty token', { auth: { token: '' } });
  handshake('websocket', 'wrong token', { auth: { token: 'wrong-token-xyz' } });
  handshake('websocket', 'token minus a char', { auth: { token: 'probe-token-12' } });
  handshake('websocket', 'upper-cased token', { auth: { token: 'PROBE-TOKEN-123' } });
  handshake('websocket', 'numeric token', { auth: { token: 123 } });
  handshake('websocket', 'null token', { auth: { token: null } });
  handshake('websocket', 'object token', { auth: { token: {} } });
  handshake('websocket', 'token in the query', { query: { token: 'wrong-token-xyz' } });
  handshake('websocket', 'Bearer header', { extraHeaders: { authorization: 'Bearer wrong-token-xyz' } });
  handshake('polling', 'no auth', {});
  handshake('polling', 'wrong token', { auth: { token: 'wrong-token-xyz' } });
  handshake('polling', 'token in the query', { query: { token: 'wrong-token-xyz' } });
  handshake('websocket', 'namespace /admin, no token', {}, '/admin');
  return probes;
}

/** Socket.IO messages a client with the token may send: each must get an error reply of the API's shape. */
function socketInputs() {
  return [
    ...[null, 'x', [], { loop: 'work' }, { loop: 'work', fn: 'echo', args: 'x' },
      { loop: 'work', fn: 'echo', args: Array.from({ length: 33 }, (_, i) => i) }, { loop: 'nope', fn: 'echo' },
      { loop: 'work', fn: 'hidden' }, { loop: 'work', fn: 'nope' }, { loop: 'l'.repeat(200), fn: 'echo' },
      { loop: '__proto__', fn: 'echo' }, { loop: 'work', fn: 'constructor' }]
      .map((request) => ({ name: `task:submit ${JSON.stringify(request)?.slice(0, 60)}`, event: 'task:submit', payload: request, expect: 'error' })),
    { name: 'task:submit 900 KB echo (allowed)', event: 'task:submit', payload: { loop: 'work', fn: 'echo', args: ['x'.repeat(900 * 1024)] }, expect: 'id' },
    ...[null, { id: 123 }, { id: 'nope' }]
      .map((request) => ({ name: `task:cancel ${JSON.stringify(request)}`, event: 'task:cancel', payload: request, expect: 'error' })),
    { name: 'task:submit without an ack', event: 'task:submit', payload: { loop: 'nope', fn: 'echo' }, expect: 'none', noAck: true },
    { name: 'unknown event with an ack', event: 'admin', payload: { cmd: 'shutdown' }, expect: 'none' },
  ];
}

const isJsonType = (headers) => /json/i.test(String(headers['content-type'] ?? ''));

/** Classifies one answer: bypass, 5xx, shape of the error body, leak. */
function judge(probe, result) {
  const verdict = { name: probe.name, category: probe.category, noToken: probe.noToken };
  if (result.outcome) return { ...verdict, outcome: result.outcome, error: result.error };
  verdict.status = result.status;
  const text = result.body?.toString('utf8') ?? '';
  let parsed;
  if (isJsonType(result.headers) && text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (parsed?.error?.code) verdict.code = parsed.error.code;
  if (result.status >= 400 && text !== '' && !probe.path?.startsWith('/socket.io/')) {
    if (isJsonType(result.headers)) {
      const good = parsed && typeof parsed.error === 'object' && parsed.error !== null
        && typeof parsed.error.code === 'string' && typeof parsed.error.message === 'string';
      verdict.shape = good ? 'ok' : 'bad';
    } else verdict.shape = 'not json';
    if (verdict.shape !== 'ok') verdict.body = text.slice(0, 160);
  }
  if (probe.noToken && probe.guards && probe.guards !== 'socket.io') {
    if (result.status >= 200 && result.status < 300) verdict.bypass = `${result.status} without the token`;
    else if (HANDLER_CODES.has(verdict.code)) verdict.bypass = `the route ran without the token (${verdict.code})`;
  }
  if (probe.leak && result.status < 300 && LEAKS.test(text)) {
    verdict.leak = true;
    verdict.body = text.slice(0, 160);
  }
  return verdict;
}

async function sioHandshake(url, probe) {
  const { io } = await import('socket.io-client');
  return new Promise((resolve) => {
    const socket = io(url + (probe.namespace ?? ''), {
      transports: [probe.transport], reconnection: false, forceNew: true, timeout: REQUEST_TIMEOUT_MS, ...probe.options,
    });
    const done = (result) => {
      clearTimeout(timer);
      socket.close();
      resolve({ name: probe.name, category: probe.category, noToken: true, ...result });
    };
    const timer = setTimeout(() => done({ outcome: 'hang', error: 'no connect and no connect_error' }), REQUEST_TIMEOUT_MS + 1000);
    socket.once('connect', () => done({ status: 'connected', bypass: 'Socket.IO connected without the token' }));
    socket.once('connect_error', (error) => done({ status: 'refused', code: error.data?.code, error: error.message }));
  });
}

/** Runs bad Socket.IO messages on one authorized connection; an oversize one last, on its own connection. */
async function sioInputs(url) {
  const { io } = await import('socket.io-client');
  const connect = () => new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: TOKEN }, timeout: REQUEST_TIMEOUT_MS });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
  const results = [];
  const socket = await connect();
  for (const input of socketInputs()) {
    const base = { name: input.name, category: 'socket.io-input', noToken: false };
    if (input.noAck) {
      socket.emit(input.event, input.payload);
      results.push({ ...base, status: 'sent' });
      continue;
    }
    const reply = await socket.timeout(input.expect === 'none' ? 1000 : REQUEST_TIMEOUT_MS).emitWithAck(input.event, input.payload).then(
      (value) => value,
      () => undefined,
    );
    if (reply === undefined) {
      results.push(input.expect === 'none' ? { ...base, status: 'no reply (expected)' } : { ...base, outcome: socket.connected ? 'hang' : 'reset', error: 'no reply' });
      continue;
    }
    const verdict = { ...base, status: reply.error ? 'error' : 'ok', code: reply.error?.code };
    if (reply.error !== undefined) {
      const good = typeof reply.error === 'object' && reply.error !== null && typeof reply.error.code === 'string' && typeof reply.error.message === 'string';
      verdict.shape = good ? 'ok' : 'bad';
      if (!good) verdict.body = JSON.stringify(reply).slice(0, 160);
      if (reply.error?.code === 'INTERNAL') verdict.internal = true;
    }
    if (input.expect === 'error' && !reply.error) verdict.note = 'accepted';
    results.push(verdict);
  }
  // Still serving this connection after all that?
  const alive = await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck('task:submit', { loop: 'work', fn: 'echo', args: [1] }).then((r) => Boolean(r?.id), () => false);
  results.push({ name: 'task:submit echo after the bad ones', category: 'socket.io-input', noToken: false, ...(alive ? { status: 'ok' } : { outcome: 'hang', error: 'no reply' }) });
  socket.close();

  const oversize = await connect();
  const closed = new Promise((resolve) => oversize.once('disconnect', (reason) => resolve(reason)));
  oversize.emit('task:submit', { loop: 'work', fn: 'echo', args: ['y'.repeat(2 * 1024 * 1024)] }, () => {});
  const reason = await Promise.race([closed, grace(REQUEST_TIMEOUT_MS).then(() => undefined)]);
  results.push({ name: 'task:submit 2 MiB message (over the limit)', category: 'socket.io-input', noToken: false, status: reason ? `disconnected (${reason})` : 'still connected' });
  oversize.close();
  return results;
}

async function pool(items, width, run) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await run(items[at]);
    }
  }));
  return results;
}

/** Authorized requests that must work, before and after the probes: otherwise "no bypass" means nothing. */
async function controls(url) {
  const port = Number(new URL(url).port);
  const auth = { authorization: `Bearer ${TOKEN}` };
  const failures = [];
  const expect = async (name, request, check) => {
    const result = await httpRequest(port, request);
    const text = result.body?.toString('utf8') ?? '';
    if (result.status !== 200 || !check(text)) failures.push(`${name}: ${result.status ?? result.outcome} ${text.slice(0, 100)}`);
  };
  await expect('GET /api/health', { path: '/api/health', headers: auth }, (t) => t.includes('ok'));
  await expect('GET /api/loops', { path: '/api/loops', headers: auth }, (t) => t.includes('"work"'));
  await expect('GET /metrics', { path: '/metrics', headers: auth }, (t) => t.includes('sideloop_event_loop_delay_seconds'));
  await expect('POST echo ?wait=1', { method: 'POST', path: '/api/loops/work/tasks?wait=1', headers: { ...auth, 'content-type': 'application/json' }, body: '{"fn":"echo","args":["control"]}' },
    (t) => JSON.parse(t).value === 'control');
  const { io } = await import('socket.io-client');
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: TOKEN } });
  try {
    const done = new Promise((resolve) => socket.on('task:done', (event) => event.value === 'control' && resolve(true)));
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const reply = await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck('task:submit', { loop: 'work', fn: 'echo', args: ['control'] });
    if (!reply?.id || !(await Promise.race([done, grace(REQUEST_TIMEOUT_MS).then(() => false)]))) failures.push(`Socket.IO echo: ${JSON.stringify(reply)}`);
  } catch (error) {
    failures.push(`Socket.IO with the token: ${error.message}`);
  } finally {
    socket.close();
  }
  return failures;
}

async function probesRole(url) {
  const port = Number(new URL(url).port);
  const started = now();
  const auth = { authorization: `Bearer ${TOKEN}` };
  const before = await controls(url);
  // A task that is still running while the probes try to read or cancel it without the token.
  const submitted = await httpRequest(port, {
    method: 'POST', path: '/api/loops/work/tasks', headers: { ...auth, 'content-type': 'application/json' }, body: '{"fn":"sleep","args":[60000]}',
  });
  let taskId = 'x';
  try {
    taskId = JSON.parse(submitted.body.toString()).id ?? 'x';
  } catch {
    before.push(`POST sleep: ${submitted.status ?? submitted.outcome}`);
  }
  const probes = buildProbes(taskId);
  const results = await pool(probes.filter((p) => p.via !== 'sio'), 8, async (probe) => {
    const result = probe.via === 'raw' ? await rawRequest(port, probe.head, probe.body) : await httpRequest(port, probe);
    return judge(probe, result);
  });
  results.push(...await pool(probes.filter((p) => p.via === 'sio'), 4, (probe) => sioHandshake(url, probe)));
  results.push(...await sioInputs(url));
  // The sleeping task is still there, and still running, if nothing reached it without the token.
  const task = await httpRequest(port, { path: `/api/tasks/${taskId}`, headers: auth });
  const state = task.status === 200 ? JSON.parse(task.body.toString()).state : `${task.status ?? task.outcome}`;
  const reached = state !== 'running' && state !== 'pending';
  results.push({
    name: 'the running task the probes tried to read and cancel', category: 'auth-bypass', noToken: true, status: state,
    ...(reached ? { bypass: `it was ${state} by a request without the token` } : {}),
  });
  await httpRequest(port, { method: 'DELETE', path: `/api/tasks/${taskId}`, headers: auth });
  const after = await controls(url);
  process.send({ probes: { results, controls: { before, after }, seconds: Math.round((now() - started) / 100) / 10 } });
  process.disconnect();
}

// ---------------------------------------------------------------------------------------------------------------
// Socket.IO client: `count` echo tasks of `size` characters. With pause-ms, it stops reading as soon as it is
// connected, keeps submitting (its own socket's write queue kept under 4 MB) and leaves after pause-ms; without,
// it reads normally and leaves once every task:done arrived.

async function sioRole(url) {
  const { io } = await import('socket.io-client');
  const count = Number(values.count);
  const size = Number(values.size);
  const pauseMs = Number(values['pause-ms'] ?? 0);
  const socket = io(url, { transports: ['websocket'], reconnection: false, auth: { token: TOKEN } });
  let received = 0;
  let done = 0;
  socket.onAny(() => (received += 1));
  socket.on('task:done', () => (done += 1));
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const connectedAt = now();
  const ws = socket.io.engine.transport.ws;
  const tcp = ws?._socket;
  if (pauseMs > 0) {
    if (!tcp) throw new Error('no underlying socket to pause');
    tcp.pause();
  }
  const receivedAtPause = received;
  const value = 'v'.repeat(size);
  let sent = 0;
  let bytes = 0;
  const deadline = connectedAt + (pauseMs > 0 ? pauseMs : 30_000);
  while (sent < count && now() < deadline && socket.connected) {
    socket.emit('task:submit', { loop: 'work', fn: 'echo', args: [value] }, () => {});
    sent += 1;
    bytes += size;
    if (sent % 8 === 0) {
      while (tcp && tcp.writableLength > 4 * 1024 * 1024 && now() < deadline && socket.connected) await sleep(5);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const sentSeconds = (now() - connectedAt) / 1000;
  if (pauseMs > 0) {
    while (now() < deadline && socket.connected) await sleep(50);
  } else {
    while (done < sent && now() < deadline && socket.connected) await sleep(20);
  }
  const report = {
    sent, megabytesSent: Math.round(bytes / 2 ** 20), sentSeconds: Math.round(sentSeconds * 10) / 10,
    receivedWhilePaused: pauseMs > 0 ? received - receivedAtPause : undefined, done,
    connectedUntilTheEnd: socket.connected, heldSeconds: Math.round((now() - connectedAt) / 100) / 10,
  };
  // Leaves: a disconnect packet, then the connection goes (unread data on it: the kernel resets it).
  socket.disconnect();
  await sleep(100);
  ws?.terminate?.();
  process.send({ sio: report });
  process.disconnect();
}

// ---------------------------------------------------------------------------------------------------------------
// Soak: `rate` requests per second for `seconds`, open loop (sent on schedule whatever the answers do), at most 256
// in flight; latency from the scheduled send to the end of the answer.

async function soakRole(url) {
  const port = Number(new URL(url).port);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const total = Math.round(rate * seconds);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies = [];
  const statuses = {};
  const counts = { sent: 0, errors: 0, timeouts: 0, wrong: 0, skipped: 0 };
  let inFlight = 0;
  const body = JSON.stringify({ fn: 'echo', args: [{ n: 1, s: 'soak' }] });
  const echoed = (answer) => {
    try {
      return JSON.parse(answer.toString()).value?.s === 'soak';
    } catch {
      return false;
    }
  };
  const one = (scheduled) => new Promise((resolve) => {
    inFlight += 1;
    let settled = false;
    const finish = (kind) => {
      if (settled) return;
      settled = true;
      inFlight -= 1;
      if (kind) counts[kind] += 1;
      resolve();
    };
    const request = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/api/loops/work/tasks?wait=1', agent,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
        latencies.push(now() - scheduled);
        finish(response.statusCode === 200 && !echoed(Buffer.concat(chunks)) ? 'wrong' : undefined);
      });
      response.on('error', () => finish('errors'));
    });
    request.setTimeout(REQUEST_TIMEOUT_MS, () => {
      request.destroy();
      finish('timeouts');
    });
    request.on('error', () => finish('errors'));
    request.end(body);
  });
  const started = now();
  const pending = [];
  while (counts.sent + counts.skipped < total) {
    const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate) + 1);
    while (counts.sent + counts.skipped < due) {
      const scheduled = started + ((counts.sent + counts.skipped) * 1000) / rate;
      if (inFlight >= 256) counts.skipped += 1;
      else {
        counts.sent += 1;
        pending.push(one(scheduled));
      }
    }
    await sleep(1);
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] * 100) / 100 : null);
  const fiveXx = Object.entries(statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);
  process.send({
    soak: {
      rate, seconds, planned: total, ...counts, statuses, fiveXx,
      achievedPerSecond: Math.round(counts.sent / ((now() - started) / 1000)),
      p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1),
    },
  });
  process.disconnect();
}

// ---------------------------------------------------------------------------------------------------------------
// Main: the server, the samplers, the phases, the table.

function child(script, args, options = {}) {
  const proc = fork(script, args, { stdio: 'inherit', ...options });
  const messages = [];
  const waiters = [];
  let exitCode;
  proc.on('message', (message) => {
    const at = waiters.findIndex((w) => w.test(message));
    if (at >= 0) waiters.splice(at, 1)[0].resolve(message);
    else messages.push(message);
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve((exitCode = code ?? signal))));
  return {
    proc,
    exited,
    get exitCode() {
      return exitCode;
    },
    send: (message) => proc.connected && proc.send(message),
    /** The first message passing `test`, or a rejection when the process exits or `timeoutMs` passes. */
    wait(test, timeoutMs) {
      const at = messages.findIndex(test);
      if (at >= 0) return Promise.resolve(messages.splice(at, 1)[0]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from ${args.join(' ') || script} in ${timeoutMs / 1000} s`)), timeoutMs);
        waiters.push({ test, resolve: (m) => (clearTimeout(timer), resolve(m)) });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${args.slice(0, 2).join(' ') || script} exited (${code}) before answering`));
        });
      });
    },
    kill: () => exitCode === undefined && proc.kill('SIGKILL'),
  };
}

const self = fileURLToPath(import.meta.url);
const role = (name, url, extra = []) => child(self, ['--role', name, '--url', url, ...extra]);
const mb = (kb) => Math.round(kb / 1024);

async function main() {
  if (!process.features.typescript) {
    console.error('server-probe: the server runs from src/ (TypeScript): use the project\'s Node, node_modules/.bin/node bench/server-probe.js');
    process.exit(2);
  }
  const started = Date.now();
  const children = [];
  const watchdog = setTimeout(() => {
    console.error(`server-probe: still running after ${quick ? 120 : 300} s, stopping everything`);
    for (const c of children) c.kill();
    process.exit(2);
  }, (quick ? 120 : 300) * 1000);
  watchdog.unref();
  process.once('SIGINT', () => {
    for (const c of children) c.kill();
    process.exit(130);
  });

  const server = child(fileURLToPath(new URL('./fixtures/probe-server.js', import.meta.url)), [], {
    env: { ...process.env, SIDELOOP_TOKEN: TOKEN },
    execArgv: [...process.execArgv, '--expose-gc'],
  });
  children.push(server);
  const { url } = await server.wait((m) => m.url, 60_000);
  const pid = server.proc.pid;
  const port = Number(new URL(url).port);
  console.log(`server-probe: server pid ${pid} at ${url} (token set); ${quick ? 'quick run' : 'full run'}`);

  // RSS every 250 ms; the main thread's delay from GET /metrics every second (each read resets the server's window).
  const rss = [];
  const sampleRss = () => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      if (kb) rss.push({ t: Date.now(), kb });
    } catch {
      // The process is gone: the phases notice.
    }
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, 250);
  const metricsP99 = [];
  let metricsFailures = 0;
  const metricsTimer = setInterval(() => {
    void httpRequest(port, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => {
      const line = r.status === 200 ? r.body.toString().split('\n').find((l) => l.startsWith('sideloop_event_loop_delay_seconds{') && l.includes('loop="main"') && l.includes('quantile="0.99"')) : undefined;
      if (line) metricsP99.push({ t: Date.now(), ms: Math.round(Number(line.split(' ').at(-1)) * 1e5) / 100 });
      else metricsFailures += 1;
    });
  }, 1000);
  const phases = {};
  // The server's own view: main-thread delay since the last reset, and its memory now.
  const ask = async (ref, reset, gc = false) => {
    server.send({ delay: true, reset, ref, gc });
    return server.wait((m) => m.ref === ref, 10_000);
  };
  const delayOf = async (name) => (await ask(name, true)).delay;
  const memoryOf = async (name, gc) => (await ask(name, false, gc)).memoryMB;
  const disconnects = [];
  server.proc.on('message', (m) => m.disconnect && disconnects.push(m.disconnect));
  const phase = async (name, run) => {
    if (server.exitCode !== undefined) throw new Error(`the server exited (${server.exitCode}) before phase ${name}`);
    await delayOf(`before ${name}`);
    const from = Date.now();
    const result = await run();
    const to = Date.now();
    const window = rss.filter((s) => s.t >= from && s.t <= to);
    const metricsWindow = metricsP99.filter((s) => s.t >= from && s.t <= to + 1000);
    phases[name] = {
      seconds: Math.round((to - from) / 100) / 10,
      peakRssMB: window.length ? mb(Math.max(...window.map((s) => s.kb))) : null,
      mainLoopDelay: await delayOf(`after ${name}`),
      metricsMainP99MaxMs: metricsWindow.length ? Math.max(...metricsWindow.map((s) => s.ms)) : null,
    };
    if (server.exitCode !== undefined) throw new Error(`the server exited (${server.exitCode}) during phase ${name}`);
    return result;
  };
  const medianKb = (from, to) => {
    const kbs = rss.filter((s) => s.t >= from && s.t <= to).map((s) => s.kb).sort((a, b) => a - b);
    return kbs.length ? kbs[Math.floor(kbs.length / 2)] : undefined;
  };

  const results = { scenario: 'server-probe', machine: describeMachine(), quick, plan: PLAN, limits: LIMITS, figures: {} };
  const failures = [];
  const problems = [];
  const f = results.figures;
  try {
    // 1. Bad inputs.
    console.log('probes: bad inputs, one request each ...');
    const probes = await phase('probes', async () => {
      const c = role('probes', url);
      children.push(c);
      return (await c.wait((m) => m.probes, 150_000)).probes;
    });
    const list = probes.results;
    const internalAcks = list.filter((r) => r.internal);
    f.probes = {
      tried: list.length,
      bypasses: list.filter((r) => r.bypass).length,
      fiveXx: list.filter((r) => typeof r.status === 'number' && r.status >= 500).length + internalAcks.length,
      badShape: list.filter((r) => r.shape === 'bad').length,
      nonJsonErrorBodies: list.filter((r) => r.shape === 'not json').length,
      resets: list.filter((r) => r.outcome === 'reset' || r.outcome === 'closed').length,
      hangs: list.filter((r) => r.outcome === 'hang').length,
      leaks: list.filter((r) => r.leak).length,
      byCategory: Object.fromEntries([...new Set(list.map((r) => r.category))].map((c) => [c, list.filter((r) => r.category === c).length])),
      controls: probes.controls,
      seconds: probes.seconds,
      results: list,
    };
    for (const [when, failed] of Object.entries(probes.controls)) {
      if (failed.length) problems.push(`authorized control requests failed ${when} the probes: ${failed.join('; ')}`);
    }

    // Warm-up, then the baseline: 2 s of idle after a little of both kinds of traffic.
    console.log('warm-up ...');
    await phase('warmup', async () => {
      const soak = role('soak', url, ['--rate', String(PLAN.soakRate), '--seconds', String(PLAN.warmupS)]);
      children.push(soak);
      await soak.wait((m) => m.soak, (PLAN.warmupS + 30) * 1000);
      const sio = role('sio', url, ['--count', '20', '--size', String(PLAN.slowSize)]);
      children.push(sio);
      await sio.wait((m) => m.sio, 60_000);
      await sleep(2000);
    });
    const baselineKb = medianKb(Date.now() - 1000, Date.now());
    const baselineMemory = await memoryOf('baseline');

    // 2. Slow consumer.
    console.log(`slow consumer: ${PLAN.slowCount} x ${PLAN.slowSize / 1024} KB echo over Socket.IO, not reading for ${PLAN.slowPauseS} s, then ${PLAN.afterS} s after it left ...`);
    const slowFrom = Date.now();
    let leftAt;
    const client = await phase('slowConsumer', async () => {
      const c = role('sio', url, ['--count', String(PLAN.slowCount), '--size', String(PLAN.slowSize), '--pause-ms', String(PLAN.slowPauseS * 1000)]);
      children.push(c);
      const report = (await c.wait((m) => m.sio, (PLAN.slowPauseS + 60) * 1000)).sio;
      await Promise.race([c.exited, grace(5000)]);
      c.kill();
      leftAt = Date.now();
      await sleep(PLAN.afterS * 1000);
      return report;
    });
    const afterKb = medianKb(leftAt + PLAN.afterS * 1000 - 1000, Date.now());
    const afterMemory = await memoryOf('after the slow consumer');
    // Not part of the verdict: what a full collection gives back, to tell held memory from uncollected garbage.
    const afterGcMemory = await memoryOf('after the slow consumer, GC', true);
    // Who ended the connection: the client when it left, or the server before (a bound on what it holds).
    const dropped = disconnects.find((d) => d.at >= slowFrom);
    const during = rss.filter((s) => s.t >= slowFrom);
    f.slowConsumer = {
      client,
      baselineRssMB: mb(baselineKb),
      peakRssMB: mb(Math.max(...during.map((s) => s.kb))),
      peakAfterSeconds: Math.round((during.reduce((a, b) => (b.kb > a.kb ? b : a)).t - slowFrom) / 100) / 10,
      rssAfterLeftMB: mb(afterKb),
      secondsAfterLeft: PLAN.afterS,
      growthMB: mb(afterKb - baselineKb),
      serverMemoryMB: { baseline: baselineMemory, afterLeft: afterMemory, afterLeftThenFullGc: afterGcMemory },
      disconnect: dropped && { reason: dropped.reason, afterSeconds: Math.round((dropped.at - slowFrom) / 100) / 10, clientLeftAfterSeconds: Math.round((leftAt - slowFrom) / 100) / 10 },
    };

    // 3. Soak.
    console.log(`soak: ${PLAN.soakRate} POST /api/loops/work/tasks?wait=1 per second for ${PLAN.soakS} s ...`);
    f.soak = await phase('soak', async () => {
      const c = role('soak', url, ['--rate', String(PLAN.soakRate), '--seconds', String(PLAN.soakS)]);
      children.push(c);
      return (await c.wait((m) => m.soak, (PLAN.soakS + 40) * 1000)).soak;
    });
  } catch (error) {
    problems.push(error.message);
  } finally {
    clearInterval(rssTimer);
    clearInterval(metricsTimer);
    const stillUp = server.exitCode === undefined;
    if (!stillUp) problems.push(`the server process exited (${server.exitCode}) during the run`);
    server.send({ close: true });
    await Promise.race([server.exited, grace(20_000)]);
    for (const c of children) c.kill();
  }

  f.rss = {
    peakMB: rss.length ? mb(Math.max(...rss.map((s) => s.kb))) : null,
    samplesEverySecond: rss.filter((_, i) => i % 4 === 0).map((s) => [Math.round((s.t - started) / 100) / 10, mb(s.kb)]),
  };
  f.mainLoop = { phases, metricsPollFailures: metricsFailures };
  results.seconds = Math.round((Date.now() - started) / 100) / 10;

  // Verdict.
  const p = f.probes;
  const soakFiveXx = f.soak?.fiveXx ?? 0;
  if (p?.bypasses > LIMITS.bypasses) failures.push(`${p.bypasses} bypass(es): ${p.results.filter((r) => r.bypass).map((r) => `${r.name} -> ${r.bypass}`).join('; ')}`);
  if ((p?.fiveXx ?? 0) + soakFiveXx > LIMITS.fiveXx) {
    const which = p.results.filter((r) => (typeof r.status === 'number' && r.status >= 500) || r.internal).map((r) => `${r.name} -> ${r.status}${r.code ? ` ${r.code}` : ''}`);
    failures.push(`${(p?.fiveXx ?? 0) + soakFiveXx} 5xx: ${[...which, ...(soakFiveXx ? [`soak: ${soakFiveXx}`] : [])].join('; ')}`);
  }
  if (p?.leaks) failures.push(`${p.leaks} static traversal(s) served a file from outside the dashboard: ${p.results.filter((r) => r.leak).map((r) => r.name).join('; ')}`);
  if (f.rss.peakMB > LIMITS.peakRssMB) failures.push(`peak RSS ${f.rss.peakMB} MB > ${LIMITS.peakRssMB} MB (slow consumer: ${f.slowConsumer?.peakRssMB} MB)`);
  if (f.slowConsumer && f.slowConsumer.growthMB > LIMITS.rssGrowthMB) {
    failures.push(`RSS ${f.slowConsumer.secondsAfterLeft} s after the slow consumer left is ${f.slowConsumer.rssAfterLeftMB} MB, ${f.slowConsumer.growthMB} MB above the ${f.slowConsumer.baselineRssMB} MB baseline (limit +${LIMITS.rssGrowthMB} MB)`);
  }
  results.verdict = { ok: failures.length === 0 && problems.length === 0, failures, problems };

  // The table.
  const s = f.slowConsumer;
  const mark = (bad) => (bad ? '**FAIL**' : 'ok');
  const soakDelay = phases.soak?.mainLoopDelay;
  const slowDelay = phases.slowConsumer?.mainLoopDelay;
  const rows = [
    ['probes tried', p ? `${p.tried} (${Object.entries(p.byCategory).map(([c, n]) => `${c} ${n}`).join(', ')})` : 'not run', '', ''],
    ['bypasses (no token, 2xx or the handler ran on /api/*, /metrics; Socket.IO connected)', p?.bypasses ?? '-', '0', p ? mark(p.bypasses > 0) : ''],
    ['5xx seen (probes, Socket.IO INTERNAL replies, soak)', p ? `${p.fiveXx + soakFiveXx} (probes ${p.fiveXx}, soak ${f.soak ? soakFiveXx : '-'})` : '-', '0', p ? mark(p.fiveXx + soakFiveXx > 0) : ''],
    ['error bodies not `{ error: { code, message } }` (JSON)', p ? `${p.badShape} (plus ${p.nonJsonErrorBodies} non-JSON error bodies)` : '-', '', ''],
    ['connection resets or closes without an answer / hangs (5 s)', p ? `${p.resets} / ${p.hangs}` : '-', '', ''],
    ['static traversal leaks', p?.leaks ?? '-', '0', p ? mark(p.leaks > 0) : ''],
    ['peak RSS, whole run (MB)', f.rss.peakMB ?? '-', `<= ${LIMITS.peakRssMB}`, f.rss.peakMB === null ? '' : mark(f.rss.peakMB > LIMITS.peakRssMB)],
    ['peak RSS with the slow consumer (MB)', s ? `${s.peakRssMB} (at +${s.peakAfterSeconds} s)` : '-', '', ''],
    ['slow consumer: sent, then disconnected', s ? `${s.client.sent} x ${PLAN.slowSize / 1024} KB in ${s.client.sentSeconds} s; ${s.disconnect ? `disconnected at +${s.disconnect.afterSeconds} s (${s.disconnect.reason}), client left at +${s.disconnect.clientLeftAfterSeconds} s` : 'no disconnect seen'}` : '-', '', ''],
    [`RSS baseline / ${PLAN.afterS} s after the slow consumer left (MB)`, s ? `${s.baselineRssMB} / ${s.rssAfterLeftMB} (+${s.growthMB}; heap used ${s.serverMemoryMB.baseline?.heapUsed} / ${s.serverMemoryMB.afterLeft?.heapUsed}, after a forced GC: RSS ${s.serverMemoryMB.afterLeftThenFullGc?.rss}, heap used ${s.serverMemoryMB.afterLeftThenFullGc?.heapUsed})` : '-', `<= +${LIMITS.rssGrowthMB}`, s ? mark(s.growthMB > LIMITS.rssGrowthMB) : ''],
    [`soak p50 / p99 latency (ms), ${PLAN.soakRate}/s for ${PLAN.soakS} s`, f.soak ? `${f.soak.p50Ms} / ${f.soak.p99Ms}` : '-', '', ''],
    ['soak errors / timeouts / non-200 / wrong answers / not sent (256 in flight)', f.soak ? `${f.soak.errors} / ${f.soak.timeouts} / ${f.soak.sent - f.soak.errors - f.soak.timeouts - (f.soak.statuses['200'] ?? 0)} / ${f.soak.wrong} / ${f.soak.skipped}` : '-', '', ''],
    ['main-loop p99 delay (ms): soak / slow consumer', `${soakDelay?.p99Ms ?? '-'} / ${slowDelay?.p99Ms ?? '-'}`, '', ''],
    ['main-loop p99 from GET /metrics, worst 1 s window (ms): soak / slow consumer', `${phases.soak?.metricsMainP99MaxMs ?? '-'} / ${phases.slowConsumer?.metricsMainP99MaxMs ?? '-'}`, '', ''],
  ];
  console.log(`\n| figure | measured | limit | verdict |\n| --- | --- | --- | --- |\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
  for (const failure of failures) console.log(`FAIL: ${failure}`);
  for (const problem of problems) console.log(`RUN PROBLEM: ${problem}`);
  console.log(`${results.verdict.ok ? 'PASS' : 'FAIL'} in ${results.seconds} s`);

  const out = new URL('./results/server-probe.json', import.meta.url);
  if (!quick || values.save) {
    mkdirSync(new URL('./results', import.meta.url), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`written ${fileURLToPath(out)}`);
  } else console.log('(quick run: nothing written; add --save to write)');
  process.exitCode = problems.length ? 2 : failures.length ? 1 : 0;
}

if (values.role === 'probes') await probesRole(values.url);
else if (values.role === 'sio') await sioRole(values.url);
else if (values.role === 'soak') await soakRole(values.url);
else await main();
