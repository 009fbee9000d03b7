/**
 * The brokers a server source can name: the `sideloop/sources/*` subpath and factory of each, the package its client
 * comes in, and the adapter options a config may give (connection options only: a ready client cannot cross into
 * the loop's thread).
 */

export type BrokerName = 'sqs' | 'redis' | 'amqp' | 'nats';

export interface Broker {
  /** The adapter's subpath, imported on both sides (the loop's thread consumes, the main thread publishes). */
  readonly subpath: string;
  /** The adapter's factory export. */
  readonly factory: string;
  /** What `npm install` needs for it. */
  readonly packages: string;
  /** Adapter options a source config may carry for this broker. */
  readonly keys: readonly string[];
}

export const BROKERS: Readonly<Record<BrokerName, Broker>> = {
  sqs: {
    subpath: 'sideloop/sources/sqs', factory: 'sqs', packages: '@aws-sdk/client-sqs',
    keys: ['queueUrl', 'queue', 'endpoint', 'region', 'credentials', 'deadLetterQueueUrl', 'waitTimeSeconds', 'create'],
  },
  redis: {
    subpath: 'sideloop/sources/redis', factory: 'redis', packages: 'ioredis',
    keys: ['url', 'stream', 'group', 'consumer', 'deadLetterStream', 'claimIdle', 'create'],
  },
  amqp: {
    subpath: 'sideloop/sources/amqp', factory: 'amqp', packages: 'amqplib',
    keys: ['url', 'queue', 'deadLetterExchange', 'deadLetterQueue', 'create'],
  },
  nats: {
    subpath: 'sideloop/sources/nats', factory: 'nats', packages: '@nats-io/jetstream @nats-io/transport-node',
    keys: ['servers', 'stream', 'consumer', 'subject', 'deadLetterSubject', 'pollTimeout', 'create'],
  },
};

export function isBroker(name: unknown): name is BrokerName {
  return typeof name === 'string' && Object.hasOwn(BROKERS, name);
}

/** A source as an adapter returns it, as much as the server uses on the main side. */
export interface Publisher {
  publish(body: unknown, attributes?: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

/** Imports the broker's adapter factory; a missing client package says what to install. */
export async function adapterFactory(broker: BrokerName): Promise<(options: Record<string, unknown>) => Publisher> {
  const { subpath, factory, packages } = BROKERS[broker];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(subpath)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error(`the ${broker} broker needs its client: npm install ${packages}`, { cause: error });
    }
    throw error;
  }
  return mod[factory] as (options: Record<string, unknown>) => Publisher;
}
