// Shared test helpers: fixture URLs and child processes for process-level behaviour.
import { spawn } from 'node:child_process';
import { afterEach } from 'node:test';
import { closeAllLoops } from '../packages/core/src/index.ts';
import { evalArgs } from './runtime.ts';

export const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);
export const srcIndex = new URL('../packages/core/src/index.ts', import.meta.url).href;

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `code` (an ES module body) in a fresh process of this runtime; resolves when it exits, or kills it after `limit` ms. */
export function runChild(code: string, { limit = 20_000, env = {}, args = [] as string[], onStdout }: {
  limit?: number; env?: Record<string, string>; args?: string[]; onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void;
} = {}): Promise<ChildResult> {
  const started = performance.now();
  const child = spawn(process.execPath, evalArgs(code, args), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    onStdout?.(chunk, child);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), limit);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Closes every loop and pool the file's tests started, after each test (forcing after 10 s). */
export function closeEveryLoopAfterEach(): void {
  afterEach(() => closeAllLoops({ timeout: 10_000 }));
}

/** Resolves once `check()` holds, looking every few milliseconds; rejects naming `what` after `ms` (generous). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** How many loops and pools the process has open now (every copy of sideloop tracks into this one set). */
export function liveLoops(): number {
  return ((globalThis as any)[Symbol.for('sideloop.lifecycle.v1')] as { live: Set<unknown> }).live.size;
}
