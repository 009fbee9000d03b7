/**
 * Runs in the loop's thread: the service that consumes one configured source. It builds the broker's adapter, wraps
 * it in the counting source, and hands every message to `consume()`: the JSON body goes to the source's `handler`
 * (a function of this loop, run as a task of its own whose signal is the handler's) and is then emitted as the
 * source's `emit` event. The handler's fulfilment acknowledges the message; a body that is not JSON is dead-lettered.
 */
import { consume, type ConsumeOptions, type ConsumeStats, type Message, type Source } from 'sideloop/sources';
import { currentLoop, taskContext } from 'sideloop/worker';
import { BROKERS, type BrokerName } from './brokers.ts';
import { CountingSource } from './counting-source.ts';

/** What the server passes to the service (structured-cloneable; `counters` is shared). */
export interface SourceSpec {
  name: string;
  broker: BrokerName;
  /** The adapter's options, with `endpoint: 'embedded'` already replaced by the emulator's URL. */
  options: Record<string, unknown>;
  consume: ConsumeOptions;
  emit: string | undefined;
  handler: string | undefined;
  /** Fail instead of retrying when the broker cannot be reached before the first connection. */
  failFast: boolean;
  counters: SharedArrayBuffer;
}

/** What a handler gets beside the body. */
export interface MessageInfo {
  id: string;
  attempt: number;
  attributes: Record<string, string>;
  source: string;
  receivedAt: number;
  publishedAt: number | undefined;
}

/** `Loop#submit` of a module whose exports the server does not know. */
type AnySubmit = (fn: string, ...args: unknown[]) => Promise<unknown>;

/** How often the broker's backlog is read, in ms. */
const BACKLOG_INTERVAL = 2000;

export async function sideloopSource(spec: SourceSpec): Promise<ConsumeStats> {
  const { signal } = taskContext();
  const { subpath, factory } = BROKERS[spec.broker];
  const make = (await import(subpath))[factory] as (options: Record<string, unknown>) => Source;
  const source = new CountingSource(make(spec.options), spec.name, spec.counters, spec.failFast, whereOf(spec.options));
  const loop = spec.handler === undefined ? undefined : currentLoop();
  const { handler: fn, emit: event } = spec;

  let sampling = false;
  const backlog = setInterval(() => {
    if (sampling) return;
    sampling = true;
    void source.sampleBacklog().finally(() => (sampling = false));
  }, BACKLOG_INTERVAL);
  backlog.unref();
  signal.addEventListener('abort', () => clearInterval(backlog), { once: true });

  try {
    return await consume(source, async (message: Message, context) => {
      try {
        const body = message.json();
        if (loop !== undefined) {
          const view = loop.with({ signal: context.signal });
          await (view.submit as AnySubmit).call(view, fn!, body, infoOf(message));
        }
        if (event !== undefined) context.emit(event, body);
      } catch (error) {
        source.handlerFailed(message.id);
        throw error;
      }
    }, spec.consume);
  } finally {
    clearInterval(backlog);
  }
}

function infoOf(message: Message): MessageInfo {
  return {
    id: message.id, attempt: message.attempt, attributes: message.attributes, source: message.source,
    receivedAt: message.receivedAt, publishedAt: message.publishedAt,
  };
}

/** The broker's address from the adapter options, without credentials: for the messages of a start that fails. */
export function whereOf(options: Record<string, unknown>): string {
  const address = options.url ?? options.servers ?? options.endpoint ?? options.queueUrl;
  const list = (Array.isArray(address) ? address : [address]).filter((a): a is string => typeof a === 'string');
  if (list.length === 0) return typeof options.region === 'string' ? `AWS ${options.region}` : 'its default address';
  return list.map((a) => {
    try {
      const url = new URL(a);
      url.username = '';
      url.password = '';
      return url.href.replace(/\/$/, '');
    } catch {
      return a;
    }
  }).join(', ');
}
