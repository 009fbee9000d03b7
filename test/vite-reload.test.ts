// Hot reload with a real Vite dev server in middleware mode: an app module that starts a loop with `reuse: true` is
// evaluated again after every edit (and sideloop itself after a full reload), and still runs one loop thread; an edit
// of the loop module gives one new thread and leaves no old one.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createServer, type ViteDevServer } from 'vite';
import { closeAllLoops } from '../packages/core/src/index.ts';
import { liveLoops } from './helpers.ts';

const appSource = (revision: string): string => `
import { startLoop } from 'sideloop';

export const revision = ${JSON.stringify(revision)};
const session = () => startLoop(new URL('./loops/session.js', import.meta.url), { name: 'vite-session', reuse: true });
// Started when the module is evaluated, as an app's top level would.
export const started = await session();

/** What a request handler does: get the loop (the live one, or the new code's) and call it. */
export async function handle() {
  const loop = await session();
  return { threadId: loop.threadId, version: await loop.submit('version'), loop };
}
`;
const loopSource = (version: string): string => `export function version() { return ${JSON.stringify(version)}; }\n`;

interface App {
  revision: string;
  started: { threadId: number; state: string };
  handle(): Promise<{ threadId: number; version: string; loop: { state: string } }>;
}

/** Loads the app until Vite serves `revision` (its watcher saw the edit). */
async function loadRevision(server: ViteDevServer, revision: string): Promise<App> {
  for (const deadline = Date.now() + 30_000; ;) {
    const app = await server.ssrLoadModule('/app.js') as App;
    if (app.revision === revision) return app;
    if (Date.now() > deadline) throw new Error(`Vite still serves revision ${app.revision}, not ${revision}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('Vite middleware mode: app edits and full reloads keep one loop thread, a loop module edit replaces it', async (t) => {
  // Inside the repository, so that the app resolves `sideloop` as an app would (Vite's watcher skips node_modules).
  const root = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.vite-app-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'app.js'), appSource('r1'));
  mkdirSync(join(root, 'loops'));
  writeFileSync(join(root, 'loops', 'session.js'), loopSource('v1'));
  t.after(() => closeAllLoops());

  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'silent',
    appType: 'custom',
    server: { middlewareMode: true, hmr: false },
    // sideloop is evaluated by Vite (not left to Node), from its TypeScript sources, so a full reload evaluates the
    // library again too: the hardest case for keeping one thread.
    ssr: { noExternal: ['sideloop'], resolve: { conditions: ['sideloop-source', 'module', 'node', 'development|production'] } },
  });
  t.after(() => server.close());

  const before = liveLoops();
  const first = await loadRevision(server, 'r1');
  const answer = await first.handle();
  assert.equal(answer.version, 'v1');
  assert.equal(answer.threadId, first.started.threadId);
  assert.equal(liveLoops(), before + 1);

  // Edit the app module: Vite evaluates it again; its startLoop hands back the live loop.
  writeFileSync(join(root, 'app.js'), appSource('r2'));
  const second = await loadRevision(server, 'r2');
  assert.notEqual(second, first);
  assert.equal(second.started.threadId, first.started.threadId);
  assert.equal(liveLoops(), before + 1);

  // A full reload: every module, sideloop's own included, evaluated again.
  server.moduleGraph.invalidateAll();
  writeFileSync(join(root, 'app.js'), appSource('r3'));
  const third = await loadRevision(server, 'r3');
  assert.equal((await third.handle()).threadId, first.started.threadId);
  assert.equal(liveLoops(), before + 1);

  // Edit the loop module: the next request runs the new code on a new thread, and the old thread is gone.
  writeFileSync(join(root, 'loops', 'session.js'), loopSource('v2'));
  const edited = await third.handle();
  assert.equal(edited.version, 'v2');
  assert.notEqual(edited.threadId, first.started.threadId);
  assert.equal(answer.loop.state, 'closed');
  assert.equal(liveLoops(), before + 1);
});
