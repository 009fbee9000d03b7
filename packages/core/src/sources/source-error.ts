/**
 * The one error `consume()` fails with when it cannot go on: its `code` says why. Registered with the error codec so
 * that it crosses threads as itself wherever `sideloop/sources` is imported.
 */
import { SideloopError } from '../errors.ts';
import { registerErrorClass } from '../worker/index.ts';

export type SourceErrorCode =
  /** The queue, stream, consumer or dead-letter destination does not exist (and `create` was not set). */
  | 'SIDELOOP_SOURCE_NOT_FOUND'
  /** The broker refused the credentials or the permission. */
  | 'SIDELOOP_SOURCE_AUTH'
  /** The adapter's options do not fit what the broker has (a dead-letter subject no stream takes, ...). */
  | 'SIDELOOP_SOURCE_CONFIG'
  /** The connection was lost and `maxReconnects` reconnects in a row failed. */
  | 'SIDELOOP_SOURCE_RECONNECTS'
  /** The broker could not be reached by a source told to fail instead of retrying (a server source without `restart`). */
  | 'SIDELOOP_SOURCE_UNREACHABLE'
  /** The source was used after `close()`. */
  | 'SIDELOOP_SOURCE_CLOSED'
  /** The connection (or the delivery's lease with it) was lost: `consume()` reconnects, this one is not final. */
  | 'SIDELOOP_SOURCE_DISCONNECTED';

export class SourceError extends SideloopError {
  override readonly code: SourceErrorCode;
  constructor(code: SourceErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

registerErrorClass(SourceError);

/** An error as events and dead letters record it: its `code` (or its class name when it has none) and message. */
export function describeError(error: unknown): { code: string | undefined; message: string } {
  if (!(error instanceof Error)) return { code: undefined, message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { code: typeof code === 'string' ? code : error.name, message: error.message };
}
