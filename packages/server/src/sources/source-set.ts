/**
 * The configured sources, as one set: before the loops start, their adapter options are checked on this thread (a
 * wrong key, a missing client package: a config error naming the source) and the embedded SQS emulator is started
 * when a source asks for it; once the loops are up, each source's consumer starts on its loop. The set lists them
 * for the API, lets the dashboard publish, and closes them before the loops close.
 */
import type * as core from 'sideloop';
import { ConfigError, type ResolvedConfig } from '../config.ts';
import type { LoopSet } from '../loop-set.ts';
import { ServerStartError } from '../server-start-error.ts';
import { adapterFactory, BROKERS, type Publisher } from './brokers.ts';
import { embeddedOptions, startEmbeddedSqs, type EmbeddedSqs } from './embedded-sqs.ts';
import { RunningSource, type SourceView } from './running-source.ts';
import { scoped, type ResolvedSource } from './source-config.ts';

export interface SourceSet {
  readonly sources: ReadonlyMap<string, RunningSource>;
  /** The embedded SQS emulator, when a source uses it. */
  readonly embedded: EmbeddedSqs | undefined;
  /** Starts every consumer on its loop; rejects (with `ServerStartError`) when one without `restart` cannot start. */
  start(loops: LoopSet): Promise<void>;
  views(): SourceView[];
  /** Publishes to a source whose config allows it; resolves with the broker's message id. */
  publish(name: string, body: unknown, attributes?: Record<string, string>): Promise<string>;
  /** Stops the consumers (the loops stay up), then closes the publishers. */
  stop(timeout: number): Promise<void>;
  /** After the loops closed: stops the emulator. */
  close(): Promise<void>;
}

function firstLine(error: unknown): string {
  return String((error as Error | undefined)?.message ?? error).split('\n')[0] ?? '';
}

/** Checks each source's adapter options with the adapter itself (nothing connects), and starts the emulator if asked. */
export async function openSources(config: ResolvedConfig, log: (line: string) => void): Promise<SourceSet> {
  for (const def of config.sources) await checkAdapter(def);
  const embedded = config.sources.some((s) => s.adapter.endpoint === 'embedded') ? await startEmbeddedSqs() : undefined;
  const options = new Map(config.sources.map((s) => [s.name, embeddedOptions(s.adapter, embedded)]));
  const sources = new Map<string, RunningSource>();
  const publishers = new Map<string, Promise<Publisher>>();
  let sampler: NodeJS.Timeout | undefined;

  return {
    sources,
    embedded,
    async start(loops) {
      const loopDefs = new Map(config.loops.map((l) => [l.name, l]));
      for (const def of config.sources) {
        const target = loops.targets.get(def.loop)!.target as unknown as core.Loop;
        sources.set(def.name, new RunningSource(def, target, {
          adapterOptions: options.get(def.name)!, loopRestarts: loopDefs.get(def.loop)?.restart !== 'never', log,
        }));
      }
      sampler = setInterval(() => {
        for (const source of sources.values()) source.sample();
      }, 1000);
      sampler.unref();
      const results = await Promise.allSettled([...sources.values()].map((s) => s.start()));
      const at = results.findIndex((r) => r.status === 'rejected');
      if (at >= 0) {
        const name = [...sources.keys()][at]!;
        const error = (results[at] as PromiseRejectedResult).reason;
        throw new ServerStartError(`Source "${name}" failed to start: ${firstLine(error)}`, { cause: error });
      }
    },
    views: () => [...sources.values()].map((s) => s.view()),
    async publish(name, body, attributes) {
      const def = config.sources.find((s) => s.name === name);
      if (!def) throw new RangeError(`No source is named "${name}"`);
      let publisher = publishers.get(name);
      if (!publisher) {
        publisher = adapterFactory(def.broker).then((make) => make(options.get(name)!));
        publishers.set(name, publisher);
      }
      return (await publisher).publish(body, attributes);
    },
    async stop(timeout) {
      clearInterval(sampler);
      await Promise.allSettled([...sources.values()].map((s) => s.stop(timeout)));
      await Promise.allSettled([...publishers.values()].map(async (p) => (await p).close()));
      publishers.clear();
    },
    async close() {
      await embedded?.stop();
    },
  };
}

/** The adapter's own checks on the options, as a config error naming the source; closes what it made (nothing connected). */
async function checkAdapter(def: ResolvedSource): Promise<void> {
  const key = `sources.${def.name}`;
  let make: (options: Record<string, unknown>) => Publisher;
  try {
    make = await adapterFactory(def.broker);
  } catch (error) {
    throw new ConfigError(`${key}.broker`, `source "${def.name}": ${firstLine(error)}`, { cause: error });
  }
  // The emulator's address is not known yet: any URL passes the same checks.
  const options = def.adapter.endpoint === 'embedded' ? { ...def.adapter, endpoint: 'http://127.0.0.1:1' } : def.adapter;
  let source: Publisher;
  try {
    source = scoped(key, BROKERS[def.broker].keys, () => make(options));
  } catch (error) {
    const message = firstLine(error);
    throw new ConfigError(key, message.includes(`\`${key}.`) ? message : `source "${def.name}": ${message}`, { cause: error });
  }
  await source.close().catch(() => {});
}
