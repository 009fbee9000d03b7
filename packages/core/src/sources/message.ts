/**
 * A message as a handler sees it: the delivery's data plus `text()` and `json()`. `json()` on a body that is not
 * JSON throws a `DeadLetterError`, so such a message goes to the dead letters at once instead of being retried.
 */
import { DeadLetterError } from '../errors.ts';
import type { Attributes, Delivery } from './source.ts';

export interface Message {
  /** Stable across redeliveries, so a handler can be idempotent. */
  readonly id: string;
  readonly body: Uint8Array;
  readonly attributes: Attributes;
  /** 1 on the first delivery; from the broker's own delivery count after that. */
  readonly attempt: number;
  /** The source's name, like `redis:orders`. */
  readonly source: string;
  /** When this consumer received it (ms since the epoch). */
  readonly receivedAt: number;
  /** When the producer published it (ms since the epoch), where known. */
  readonly publishedAt?: number | undefined;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON; throws `DeadLetterError` when it is not JSON. */
  json<T = unknown>(): T;
}

const decoder = new TextDecoder();

/**
 * Methods on a prototype rather than closures per message: a consumer makes one of these for every delivery.
 * `attributes` and `publishedAt` are read from the delivery when asked for, as an adapter may decode them lazily.
 */
class ReceivedMessage implements Message {
  readonly id: string;
  readonly body: Uint8Array;
  readonly attempt: number;
  readonly source: string;
  readonly receivedAt: number;
  readonly #delivery: Delivery;

  constructor(delivery: Delivery, source: string) {
    this.id = delivery.id;
    this.body = delivery.body;
    this.attempt = delivery.attempt;
    this.source = source;
    this.receivedAt = Date.now();
    this.#delivery = delivery;
  }

  get attributes(): Attributes {
    return this.#delivery.attributes;
  }

  get publishedAt(): number | undefined {
    return this.#delivery.publishedAt;
  }

  text(): string {
    return decoder.decode(this.body);
  }

  json<T = unknown>(): T {
    const text = decoder.decode(this.body);
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new DeadLetterError(`Message ${this.id} from ${this.source} is not JSON: ${(error as Error).message}`, { cause: error });
    }
  }
}

export function toMessage(delivery: Delivery, source: string): Message {
  return new ReceivedMessage(delivery, source);
}
