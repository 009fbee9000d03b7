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

export function toMessage(delivery: Delivery, source: string): Message {
  const { id, body, attributes, attempt, publishedAt } = delivery;
  return {
    id, body, attributes, attempt, source, receivedAt: Date.now(), publishedAt,
    text: () => decoder.decode(body),
    json<T>(): T {
      const text = decoder.decode(body);
      try {
        return JSON.parse(text) as T;
      } catch (error) {
        throw new DeadLetterError(`Message ${id} from ${source} is not JSON: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}
