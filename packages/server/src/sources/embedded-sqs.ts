/**
 * `endpoint: 'embedded'`: an SQS emulator (fauxqs) in the server's process on a free loopback port, so that an SQS
 * source runs over the real AWS SDK with nothing to install. One per server, started only when a source asks for it;
 * its queues live in memory and end with the server.
 */
import { startFauxqs } from 'fauxqs';

export interface EmbeddedSqs {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** The adapter options that point a source at it. */
  readonly options: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  stop(): Promise<void>;
}

export async function startEmbeddedSqs(): Promise<EmbeddedSqs> {
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    options: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' } },
    stop: () => (stopped ??= server.stop()),
  };
}

/** The adapter options of `source` with `endpoint: 'embedded'` replaced by the emulator's (queues created when missing). */
export function embeddedOptions(adapter: Record<string, unknown>, sqs: EmbeddedSqs | undefined): Record<string, unknown> {
  if (adapter.endpoint !== 'embedded' || sqs === undefined) return adapter;
  return { create: true, ...sqs.options, ...adapter, endpoint: sqs.endpoint };
}
