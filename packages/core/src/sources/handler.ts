/**
 * A message handler and what a consumer reports, shared by `consume()` (consume.ts) and the consumer that runs it
 * (consumer.ts).
 */
import type { Message } from './message.ts';

/** What a consumer did, as `consume()` resolves with it when stopped. */
export interface ConsumeStats {
  /** Messages received from the broker (a redelivery counts again). */
  received: number;
  /** Messages acknowledged after their handler fulfilled. */
  acked: number;
  /** Failed messages released for a later try. */
  retried: number;
  /** Messages moved to the dead-letter destination. */
  deadLettered: number;
  /** Messages given back unhandled: held when the consumer stopped, or still running after `stopTimeout`. */
  released: number;
  /** Handlers that were running when the stop began (not those already done, whose message was being acknowledged). */
  inFlightAtStop: number;
}

/** What a handler gets beside the message. */
export interface HandlerContext {
  /** Aborted when the consumer stops and `stopTimeout` has passed: give up, the message is released. */
  readonly signal: AbortSignal;
  /** Sends a loop event to the main side, as `taskContext().emit` does. */
  readonly emit: (event: string, payload?: unknown) => void;
}

/** A message handler: its promise fulfilling acknowledges the message; throwing or rejecting retries it. */
export type Handler = (message: Message, context: HandlerContext) => unknown;
