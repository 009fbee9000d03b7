/**
 * `sideloop/fastify`: loops and pools as part of a Fastify app. They start while the app registers its plugins, so
 * `ready()` and `listen()` resolve only once every `init` returned (and reject with its `LoopInitError`, leaving no
 * thread behind); `fastify.loops` holds them by name; `close()` closes them after the requests in flight finished;
 * and the loop errors an app cannot help answer as `sideloop serve` answers them (see remote/http-error.ts).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { drainBeforeShutdown } from '../lifecycle.ts';
import { endConnectionsWhenIdle } from './drain.ts';
import { startLoop } from '../loop/owned-core.ts';
import type { Loop } from '../loop/loop.ts';
import { checkObject, invalid, type LoopOptions } from '../options.ts';
import { startPool, type Pool } from '../pool/pool.ts';
import type { PoolOptions } from '../pool/options.ts';
import { httpAnswerOf, httpErrorOf } from '../remote/http-error.ts';

export interface SideloopPluginOptions {
  /** Loops by name: `{ mcp: { module: './loops/mcp.js', restart: 'on-failure' } }`; the name is the loop's `name`. */
  loops?: Record<string, LoopOptions & { module: string | URL }>;
  /** Pools by name, the same way; a pool and a loop cannot share a name. */
  pools?: Record<string, PoolOptions & { module: string | URL }>;
  /** Answer loop errors (503 not ready or queue full, 504 timeout) for the app's routes. @default true */
  errors?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The loops and pools `sideloop/fastify` started, by name. */
    loops: Record<string, Loop | Pool>;
  }
}

type Entry = { name: string; kind: 'loops' | 'pools'; module: string | URL; options: Record<string, unknown> };

/** Checks the plugin's options before any thread starts: TypeError naming the key (`loops.mcp.module`). */
function entriesOf(input: unknown): { entries: Entry[]; errors: boolean } {
  const options = checkObject('options', input);
  for (const key of Object.keys(options)) {
    if (key !== 'loops' && key !== 'pools' && key !== 'errors') throw new TypeError(`Unknown option \`${key}\``);
  }
  if (options.errors !== undefined && typeof options.errors !== 'boolean') throw invalid('errors', 'a boolean', options.errors);
  const entries: Entry[] = [];
  for (const kind of ['loops', 'pools'] as const) {
    for (const [name, value] of Object.entries(checkObject(kind, options[kind]))) {
      const { module, ...rest } = checkObject(`${kind}.${name}`, value);
      if (!(module instanceof URL) && (typeof module !== 'string' || module === '')) {
        throw invalid(`${kind}.${name}.module`, 'a path or URL', module);
      }
      if (rest.name !== undefined && rest.name !== name) throw invalid(`${kind}.${name}.name`, `absent or '${name}'`, rest.name);
      if (entries.some((entry) => entry.name === name)) throw new TypeError(`A loop and a pool are both named '${name}'`);
      entries.push({ name, kind, module, options: rest });
    }
  }
  return { entries, errors: options.errors !== false };
}

async function sideloopPlugin(fastify: FastifyInstance, options: SideloopPluginOptions): Promise<void> {
  const { entries, errors } = entriesOf(options);
  const loops: Record<string, Loop | Pool> = {};
  const started = await Promise.allSettled(entries.map(({ name, kind, module, options: rest }) => (kind === 'loops'
    ? startLoop(module, { ...rest, name })
    : startPool(module, { ...rest, name })).then((handle) => (loops[name] = handle))));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(Object.values(loops).map((handle) => handle.close()));
    throw failed.reason;
  }
  fastify.decorate('loops', loops);
  // Requests in flight finish before the loops close: on `fastify.close()`, and on a loop's shutdown signal.
  const undrain = drainBeforeShutdown(() => fastify.close());
  // Keep-alive clients do not hold `close()` for their idle timeout: each connection ends once its response is out.
  let stopEnding: (() => void) | undefined;
  fastify.addHook('preClose', async () => {
    stopEnding = endConnectionsWhenIdle(fastify.server);
  });
  fastify.addHook('onClose', async () => {
    stopEnding?.();
    undrain();
    await Promise.all(Object.values(loops).map((handle) => handle.close()));
  });
  if (errors) answerLoopErrors(fastify);
}

/** Maps loop errors for the routes of this app; others go to the error handler that was there before. */
function answerLoopErrors(fastify: FastifyInstance): void {
  const previous = fastify.errorHandler;
  fastify.setErrorHandler(function (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const mapped = httpErrorOf(error);
    if (!mapped) return previous.call(this, error, request, reply);
    const { status, headers, body } = httpAnswerOf(mapped);
    return reply.status(status).headers(headers).send(body);
  });
}

// What the `fastify-plugin` package would set: the decorations and hooks belong to the app that registers it.
Object.assign(sideloopPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sideloop',
  [Symbol.for('plugin-meta')]: { name: 'sideloop', fastify: '5.x' },
});

export default sideloopPlugin;
export { sideloopPlugin };
