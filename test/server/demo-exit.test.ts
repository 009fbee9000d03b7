// The built-in demo's MCP child (the "everything" server that loop `mcp` spawns over stdio) ends with the server
// process, however that ends: a drain that times out (close cancels the running tasks and closes the loops, then the
// process exits), a second signal (the process exits at once) or SIGKILL. The child is busy with a long tool call
// each time, so that it would not end by itself soon. Linux only: the child is found through /proc.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, afterEach, describe, test } from 'node:test';

const cli = new URL('../../packages/server/src/cli.ts', import.meta.url).pathname;
const serverIndex = new URL('../../packages/server/src/index.ts', import.meta.url).href;

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces): [state, ppid, ...]. */
function statOf(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Gone, or a zombie waiting to be reaped (it has ended; its new parent may reap it late). */
function ended(pid: number): boolean {
  const state = statOf(pid)?.[0];
  return state === undefined || state === 'Z' || state === 'X';
}

/** Processes whose parent is `ppid` and whose command line holds `needle`. */
function childrenOf(ppid: number, needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || statOf(pid)?.[1] !== String(ppid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Polls `check` until it holds; false after `ms`. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

interface Server {
  child: Child;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Starts a server process and resolves once it prints the dashboard URL. */
async function startProcess(args: string[], cwd: string): Promise<Server> {
  const env = { ...process.env };
  delete env.SIDELOOP_TOKEN;
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /Dashboard: (http:\/\/\S+?)\/\S*\n/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(({ code }) => reject(new Error(`the server exited (${code}) before it was ready: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

/** The MCP child of the server, busy with a long tool call that it has surely received. */
async function busyMcpChild(server: Server): Promise<number> {
  const mcp = childrenOf(server.child.pid!, 'server-everything');
  assert.equal(mcp.length, 1, `one MCP child of the server, found ${JSON.stringify(mcp)}`);
  // Progress every 20 s: a child that only ends when its next write fails would live that long.
  const long = await post(`${server.url}/api/loops/mcp/tasks`, { fn: 'callTool', args: ['trigger-long-running-operation', { duration: 60, steps: 3 }] });
  assert.equal(long.status, 202, JSON.stringify(long.body));
  // The child reads requests in order: once it has answered this one, it is running the long one.
  const echo = await post(`${server.url}/api/loops/mcp/tasks?wait=1`, { fn: 'callTool', args: ['echo', { message: 'still here' }] });
  assert.equal(echo.body.state, 'fulfilled', JSON.stringify(echo.body));
  assert.ok(!ended(mcp[0]!));
  return mcp[0]!;
}

void describe('built-in demo: the MCP child ends with the server', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sideloop-demo-exit-'));
  /** What a failing test leaves behind: the server, the MCP child. */
  const leftovers: number[] = [];
  afterEach(() => {
    for (const pid of leftovers.splice(0)) {
      if (ended(pid)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts `args` as a server process with a busy MCP child; both are killed after the test if still alive. */
  async function busyServer(args: string[]): Promise<{ server: Awaited<ReturnType<typeof startProcess>>; mcp: number }> {
    const server = await startProcess(args, dir);
    leftovers.push(server.child.pid!);
    const mcp = await busyMcpChild(server);
    leftovers.push(mcp);
    return { server, mcp };
  }

  async function assertEnds(mcp: number, exitedAt: number): Promise<void> {
    assert.ok(await eventually(() => ended(mcp), 2000),
      `the MCP child ${mcp} is still alive ${Math.round(performance.now() - exitedAt)} ms after the server exited`);
  }

  void test('after a drain that times out (close cancels, closes the loops, then the process exits)', async () => {
    // What `sideloop serve` does on the first signal, with a short shutdownTimeout (the CLI has no flag for it).
    const script = `
      import { startServer } from ${JSON.stringify(serverIndex)};
      const server = await startServer({ port: 0, shutdownTimeout: 300 });
      process.on('SIGTERM', () => {
        process.stderr.write('draining\\n');
        server.close().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
      });
      process.stdout.write('Dashboard: ' + server.url + '/\\n');
    `;
    const file = join(dir, 'drain-server.mjs');
    writeFileSync(file, script);
    const { server, mcp } = await busyServer([file]);
    const signalled = performance.now();
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    assert.equal(exit.code, 0, server.stderr());
    assert.ok(exit.at - signalled < 8000, `the server took ${Math.round(exit.at - signalled)} ms to close`);
    await assertEnds(mcp, exit.at);
  });

  void test('after a second signal (sideloop serve exits at once)', async () => {
    const { server, mcp } = await busyServer([cli, 'serve', '--port', '0']);
    server.child.kill('SIGTERM');
    assert.ok(await eventually(() => server.stderr().includes('draining'), 5000), server.stderr());
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    assert.equal(exit.code, 130, server.stderr());
    await assertEnds(mcp, exit.at);
  });

  void test('after SIGKILL (nothing in the server runs)', async () => {
    const { server, mcp } = await busyServer([cli, 'serve', '--port', '0']);
    server.child.kill('SIGKILL');
    const exit = await server.exited;
    assert.equal(exit.signal, 'SIGKILL');
    await assertEnds(mcp, exit.at);
  });
});
