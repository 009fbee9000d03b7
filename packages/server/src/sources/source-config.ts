/**
 * The `sources` of a server config (docs/sources.md, "In the server"): each names a broker, the adapter's connection
 * options, what to do with each message (`emit` it as an event, and/or run the `handler` its loop exports), the
 * consume options, and its restart policy. Checked here key by key with the config's formula; the adapter's own
 * checks and the broker itself are met when the server starts (source-set.ts).
 */
import { resolveConsumeOptions, type ConsumeOptions } from 'sideloop/sources';
import { BROKERS, isBroker, type BrokerName } from './brokers.ts';

export type SourceRestart = 'never' | 'on-failure' | 'always';

/** One source as a config file gives it. */
export interface SourceConfig extends ConsumeOptions {
  broker: BrokerName;
  /** The loop whose thread consumes; its module's exports are what `handler` may name. @default a loop of its own, named after the source */
  loop?: string;
  /** Relays each message's JSON body to Socket.IO clients as this event. */
  emit?: string;
  /** A function the source's loop exports, run with `(body, message)` for each message; its fulfilment acks. */
  handler?: string | { loop: string; fn: string };
  /** Restart the consumer when it fails (and keep retrying a start that fails), showing why on the dashboard. @default 'never' */
  restart?: SourceRestart;
  /** @default Infinity (with a restart policy) */
  maxRestarts?: number;
  /** Milliseconds the consumer may take to connect at start (without `restart`). @default 30000 */
  readyTimeout?: number;
  /** Let `POST /api/sources/:name/messages` (and the dashboard's form) publish to it. @default false */
  publish?: boolean;
  /** The adapter's options (docs/sources.md, "Adapters"); for SQS, `endpoint: 'embedded'` starts an emulator in the server. */
  [adapterOption: string]: unknown;
}

/** A checked source. */
export interface ResolvedSource {
  name: string;
  broker: BrokerName;
  /** The loop it runs on. */
  loop: string;
  /** True when that loop exists only for this source. */
  ownLoop: boolean;
  /** The adapter's options as given (`endpoint: 'embedded'` is filled in at start). */
  adapter: Record<string, unknown>;
  consume: ConsumeOptions;
  emit: string | undefined;
  handler: string | undefined;
  restart: SourceRestart;
  maxRestarts: number;
  readyTimeout: number;
  publish: boolean;
}

const CONSUME_KEYS = ['concurrency', 'prefetch', 'maxAttempts', 'retryDelay', 'lease', 'stopTimeout', 'maxReconnects'] as const;
const SERVER_KEYS = ['broker', 'loop', 'emit', 'handler', 'restart', 'maxRestarts', 'readyTimeout', 'publish'] as const;

/** What the config module lends the sources' checks: its error and its shared checks. */
export interface ConfigChecks {
  fail(key: string, expected: string, value: unknown, ctor?: typeof TypeError): never;
  check<T>(key: string, run: (key: string) => T): T;
  integer(key: string, value: unknown, min: number, fallback: number | undefined, options?: { allowInfinity?: boolean }): number | undefined;
  ms(key: string, value: unknown, fallback: number): number;
  restartPolicy(key: string, value: unknown): SourceRestart;
  eventName(key: string, value: unknown): string;
  fnName(key: string, value: unknown): string;
}

/**
 * Checks `sources.<name>`: `loops` are the config's loop names (a source's own loop must not clash with them, a
 * `loop:` must name one), `taken` every loop and pool name so far.
 */
export function resolveSource(name: string, def: Record<string, unknown>, loops: ReadonlySet<string>, taken: ReadonlySet<string>, c: ConfigChecks): ResolvedSource {
  const key = `sources.${name}`;
  if (!isBroker(def.broker)) c.fail(`${key}.broker`, `one of ${Object.keys(BROKERS).map((b) => `'${b}'`).join(', ')}`, def.broker);
  const broker = def.broker;
  const allowed = [...SERVER_KEYS, ...CONSUME_KEYS, ...BROKERS[broker].keys];
  for (const option of Object.keys(def)) {
    if (!allowed.includes(option)) {
      const hint = option === 'client' || option === 'connection' ? ' (a ready client cannot cross into the loop; give its connection options)' : '';
      c.fail(`${key}.${option}`, `a known key for a ${broker} source${hint}: one of ${allowed.join(', ')}`, def[option]);
    }
  }

  if (def.loop !== undefined && (typeof def.loop !== 'string' || !loops.has(def.loop))) {
    c.fail(`${key}.loop`, `the name of a loop in \`loops\` (${[...loops].join(', ') || 'none'})`, def.loop);
  }
  let loop = def.loop;
  let handler: string | undefined;
  if (typeof def.handler === 'object' && def.handler !== null && !Array.isArray(def.handler)) {
    const h = def.handler as Record<string, unknown>;
    for (const option of Object.keys(h)) if (option !== 'loop' && option !== 'fn') c.fail(`${key}.handler.${option}`, 'one of loop, fn', h[option]);
    if (typeof h.loop !== 'string' || !loops.has(h.loop)) c.fail(`${key}.handler.loop`, `the name of a loop in \`loops\` (${[...loops].join(', ') || 'none'})`, h.loop);
    if (loop !== undefined && loop !== h.loop) c.fail(`${key}.handler.loop`, `the source's own \`loop\` ("${loop}"): a handler runs on the loop that consumes`, h.loop);
    loop = h.loop;
    handler = c.fnName(`${key}.handler.fn`, h.fn);
  } else if (def.handler !== undefined) {
    if (typeof def.handler !== 'string') c.fail(`${key}.handler`, "a function name with `loop`, or { loop, fn }", def.handler);
    if (loop === undefined) c.fail(`${key}.handler`, "{ loop, fn } or a `loop` key: the handler is a function of the loop that consumes", def.handler);
    handler = c.fnName(`${key}.handler`, def.handler);
  }
  const emit = def.emit === undefined ? undefined : c.eventName(`${key}.emit`, def.emit);
  if (emit === undefined && handler === undefined) c.fail(key, 'a source with `emit` (an event name) or `handler` (a function of its loop), or both', undefined);
  if (loop === undefined && taken.has(name)) {
    c.fail(key, `a name no loop or pool has (a source runs on a loop of its own of that name; set \`loop\` to run it on loop "${name}")`, name);
  }

  const consume: Record<string, unknown> = {};
  for (const option of CONSUME_KEYS) if (def[option] !== undefined) consume[option] = def[option];
  for (const option of CONSUME_KEYS) c.check(`${key}.${option}`, () => scoped(key, CONSUME_KEYS, () => resolveConsumeOptions({ [option]: consume[option] })));

  const adapter: Record<string, unknown> = {};
  for (const option of BROKERS[broker].keys) if (def[option] !== undefined) adapter[option] = def[option];
  if (def.publish !== undefined && typeof def.publish !== 'boolean') c.fail(`${key}.publish`, 'a boolean', def.publish);
  return {
    name,
    broker,
    loop: loop ?? name,
    ownLoop: loop === undefined,
    adapter,
    consume: consume,
    emit,
    handler,
    restart: c.restartPolicy(`${key}.restart`, def.restart),
    maxRestarts: c.integer(`${key}.maxRestarts`, def.maxRestarts, 0, Infinity, { allowInfinity: true }) ?? Infinity,
    readyTimeout: c.ms(`${key}.readyTimeout`, def.readyTimeout, 30_000),
    publish: def.publish === true,
  };
}

/**
 * Runs a check whose messages name bare options (`concurrency`, an adapter's `stream`), so that they name the
 * config's key instead: "Expected `sources.orders.stream` to be a non-empty string, got `undefined`".
 */
export function scoped<T>(key: string, names: readonly string[], run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    const message = error.message.replace(/`([A-Za-z]\w*)`/g, (whole, name: string) => (names.includes(name) ? `\`${key}.${name}\`` : whole));
    const Ctor = error instanceof RangeError ? RangeError : TypeError;
    throw new Ctor(message, { cause: error });
  }
}
