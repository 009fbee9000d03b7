/**
 * `sideloop/sources`: consume real brokers in a loop, losing nothing. The broker adapters are subpaths of their own
 * (`sideloop/sources/redis`, `/amqp`, `/nats`, `/sqs`), each importing only its broker's client.
 */
export { consume, type ConsumeStats, type Handler, type HandlerContext } from './consume.ts';
export { resolveConsumeOptions, type ConsumeOptions, type ResolvedConsumeOptions, type RetryDelay } from './consume-options.ts';
export type { Message } from './message.ts';
export { memorySource, type MemorySource, type MemorySourceOptions, type DeadLetter } from './memory-source.ts';
export { SourceError, type SourceErrorCode } from './source-error.ts';
export {
  encodeBody, type Source, type PublishingSource, type Delivery, type Body, type Attributes, type ConnectOptions,
  type Connected, type DeadLetterReason,
} from './source.ts';
export { DeadLetterError } from '../errors.ts';
