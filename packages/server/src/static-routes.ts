/**
 * The dashboard page and its assets (src/server/dashboard/), plus `/vendor/*`: the browser builds of preact, htm
 * and uPlot straight from node_modules. `/socket.io/socket.io.esm.min.js` is served by socket.io itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ServerStartError } from './server-start-error.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The dashboard folder next to this file; from dist/, falls back to the package's src/ copy when present. */
export function dashboardDir(): string {
  const candidates = [join(here, 'dashboard'), join(here, '..', '..', 'src', 'server', 'dashboard')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

const VENDOR: Record<string, { pkg: string; file: string; type: string }> = {
  'preact.mjs': { pkg: 'preact', file: 'dist/preact.mjs', type: 'text/javascript; charset=utf-8' },
  'preact-hooks.mjs': { pkg: 'preact', file: 'hooks/dist/hooks.mjs', type: 'text/javascript; charset=utf-8' },
  'htm.mjs': { pkg: 'htm', file: 'dist/htm.module.js', type: 'text/javascript; charset=utf-8' },
  'uplot.mjs': { pkg: 'uplot', file: 'dist/uPlot.esm.js', type: 'text/javascript; charset=utf-8' },
  'uplot.css': { pkg: 'uplot', file: 'dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
};

const PLACEHOLDER = `<!doctype html><html lang="en"><meta charset="utf-8"><title>sideloop</title>
<body><h1>sideloop</h1><p>The dashboard is not built here. The API is at <a href="/api/loops">/api/loops</a>.</p></body></html>`;

function packageDir(pkg: string): string {
  const require = createRequire(import.meta.url);
  // Resolve the entry point (package.json may be hidden by "exports") and walk up to the package folder.
  let dir = dirname(require.resolve(pkg));
  const named = (d: string): boolean => existsSync(join(d, 'package.json'))
    && (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === pkg;
  while (!named(dir)) {
    const parent = dirname(dir);
    if (parent === dir) throw new ServerStartError(`Cannot find the folder of package ${pkg}, which the dashboard serves`);
    dir = parent;
  }
  return dir;
}

export async function registerStaticRoutes(app: FastifyInstance): Promise<void> {
  const vendor = new Map<string, { body: Buffer; type: string }>();
  for (const [name, { pkg, file, type }] of Object.entries(VENDOR)) {
    const path = join(packageDir(pkg), file);
    if (existsSync(path)) vendor.set(name, { body: readFileSync(path), type });
  }
  app.get<{ Params: { file: string } }>('/vendor/:file', async (request, reply) => {
    const entry = vendor.get(request.params.file);
    if (!entry) return reply.callNotFound();
    return reply.type(entry.type).header('cache-control', 'public, max-age=3600').send(entry.body);
  });

  const root = dashboardDir();
  const index = join(root, 'index.html');
  app.get('/', async (_request, reply) => {
    const body = existsSync(index) ? readFileSync(index) : PLACEHOLDER;
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(body);
  });
  if (existsSync(root)) {
    await app.register(fastifyStatic, { root, prefix: '/', index: false, wildcard: true, decorateReply: false, cacheControl: false, allowedPath: (path) => !path.endsWith('.test.ts') });
  }
}
