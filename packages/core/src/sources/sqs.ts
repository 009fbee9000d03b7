/**
 * `sideloop/sources/sqs`: Amazon SQS (and SQS-compatible services) on `@aws-sdk/client-sqs`.
 *
 * Long polling (`waitTimeSeconds`) with the receive aborted at once on stop; room for more than 10 messages adds
 * short polls beside the long one. The visibility timeout is the lease
 * (whole seconds, rounded up): `ChangeMessageVisibility` extends it, and sets it to the retry delay to release a
 * message. `attempt` is `ApproximateReceiveCount`. The acks of one event-loop turn are deleted together
 * (`DeleteMessageBatch`, 10 a call). Dead letters are sent to `deadLetterQueueUrl` (default: the queue
 * `<name>-dead`) with their last error as message attributes, then deleted. Bodies are text; bytes that are not
 * UTF-8 travel as base64 with a `Sideloop-Encoding` attribute.
 */
import {
  SQSClient, ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand, GetQueueAttributesCommand,
  GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, type Message as SqsMessage, type MessageAttributeValue,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { invalid } from '../options.ts';
import { checkBoolean, checkKeys, checkName, checkObject } from './adapter-options.ts';
import { burst } from './burst.ts';
import { SourceError } from './source-error.ts';
import {
  encodeBody, type Attributes, type Body, type ConnectOptions, type Connected, type DeadLetterReason, type Delivery,
  type PublishingSource,
} from './source.ts';

export interface SqsSourceOptions {
  /** The queue's URL; or give `queue`, its name. */
  queueUrl?: string;
  /** The queue's name, looked up (or created, with `create`) on connect. */
  queue?: string;
  /** The service's endpoint, for SQS-compatible services and emulators. @default the AWS endpoint of `region` */
  endpoint?: string;
  /** @default the SDK's (`AWS_REGION`, the shared config) */
  region?: string;
  /** @default the SDK's credential chain */
  credentials?: SQSClientConfig['credentials'];
  /** A ready `SQSClient` (stays open when the source closes). */
  client?: SQSClient;
  /** Where dead letters go. @default the URL of the queue `<name>-dead` */
  deadLetterQueueUrl?: string;
  /** Long polling: how long one receive waits for messages, in seconds (0 to 20). @default 20 */
  waitTimeSeconds?: number;
  /** Create the queue and the default dead-letter queue when missing. @default false */
  create?: boolean;
}

const KEYS = ['queueUrl', 'queue', 'endpoint', 'region', 'credentials', 'client', 'deadLetterQueueUrl', 'waitTimeSeconds', 'create'] as const;
const ENCODING = 'Sideloop-Encoding';
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function sqs(options: SqsSourceOptions): PublishingSource {
  const o = checkObject('options', options);
  checkKeys(o, KEYS);
  if ((o.queueUrl === undefined) === (o.queue === undefined)) throw new TypeError('Expected exactly one of `queueUrl`, `queue`');
  const queueUrlOption = checkName('queueUrl', o.queueUrl);
  const queueName = checkName('queue', o.queue) ?? queueUrlOption!.split('/').at(-1)!;
  const endpoint = checkName('endpoint', o.endpoint);
  const region = checkName('region', o.region);
  const deadLetterOption = checkName('deadLetterQueueUrl', o.deadLetterQueueUrl);
  const create = checkBoolean('create', o.create);
  const wait = o.waitTimeSeconds ?? 20;
  if (typeof wait !== 'number') throw invalid('waitTimeSeconds', 'an integer from 0 to 20', wait);
  if (!Number.isInteger(wait) || wait < 0 || wait > 20) throw invalid('waitTimeSeconds', 'an integer from 0 to 20', wait, RangeError);
  if (o.client !== undefined && !(o.client instanceof SQSClient)) throw invalid('client', 'an SQSClient', o.client);
  const given = o.client;
  if (given && (endpoint || region || o.credentials)) throw new TypeError('Pass either `client` or `endpoint`/`region`/`credentials`, not both');

  let client: SQSClient | undefined;
  let queueUrl = queueUrlOption;
  let deadLetterQueueUrl = deadLetterOption;
  let visibility = 30;
  const sdk = (): SQSClient => (client ??= given ?? new SQSClient({
    ...(endpoint && { endpoint }), ...(region && { region }), ...(o.credentials !== undefined && { credentials: o.credentials as SQSClientConfig['credentials'] }),
  }));
  const urlOf = async (name: string, attributes?: Record<string, string>): Promise<string> => {
    try {
      return (await sdk().send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    } catch (error) {
      if (!isMissingQueue(error)) throw classify(error);
      if (!create) throw new SourceError('SIDELOOP_SOURCE_NOT_FOUND', `sqs: the queue \`${name}\` does not exist (pass \`create: true\` to create it)`, { cause: error });
      return (await sdk().send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
    }
  };
  // The acks of one turn: DeleteMessageBatch, 10 receipt handles a call. An entry the queue refuses (a receipt handle
  // that expired) fails the acks of its turn: that message comes back after its visibility timeout.
  const deletes = burst(async (handles: string[]) => {
    const calls = [];
    for (let i = 0; i < handles.length; i += 10) {
      const Entries = handles.slice(i, i + 10).map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle }));
      calls.push(sdk().send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries })));
    }
    const failed = (await Promise.all(calls)).flatMap((reply) => reply.Failed ?? []);
    if (failed.length > 0) throw new Error(`sqs: ${failed.length} of ${handles.length} deletes failed: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`);
  });
  const resolveUrls = async (): Promise<string> => {
    queueUrl ??= await urlOf(queueName, queueName.endsWith('.fifo') ? { FifoQueue: 'true' } : undefined);
    return queueUrl;
  };

  return {
    name: `sqs:${queueName}`,
    broker: 'sqs',
    async connect({ lease }: ConnectOptions): Promise<Connected> {
      visibility = Math.max(1, Math.ceil(lease / 1000));
      const url = await resolveUrls();
      const fifo = queueName.endsWith('.fifo');
      deadLetterQueueUrl ??= await urlOf(fifo ? `${queueName.slice(0, -5)}-dead.fifo` : `${queueName}-dead`, fifo ? { FifoQueue: 'true' } : undefined);
      try {
        await sdk().send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
      } catch (error) {
        if (isMissingQueue(error)) throw new SourceError('SIDELOOP_SOURCE_NOT_FOUND', `sqs: the queue \`${url}\` does not exist`, { cause: error });
        throw classify(error);
      }
      return { queue: queueName };
    },
    async receive(max: number, signal: AbortSignal): Promise<Delivery[]> {
      if (signal.aborted) return [];
      // SQS gives at most 10 messages a call: for more room, one long poll and short polls beside it, so a receive
      // returns as soon as the long poll does.
      const calls = Array.from({ length: Math.ceil(max / 10) }, (_, i) => sdk().send(new ReceiveMessageCommand({
        QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, max - i * 10), WaitTimeSeconds: i === 0 ? wait : 0, VisibilityTimeout: visibility,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'], MessageAttributeNames: ['All'],
      }), { abortSignal: signal }));
      try {
        const replies = await Promise.allSettled(calls);
        const failed = replies.find((r) => r.status === 'rejected');
        const messages = replies.flatMap((r) => (r.status === 'fulfilled' ? (r.value.Messages ?? []) : []));
        if (failed && messages.length === 0) throw failed.reason;
        return messages.map(toDelivery);
      } catch (error) {
        if (signal.aborted) return [];
        if (isMissingQueue(error)) throw new SourceError('SIDELOOP_SOURCE_NOT_FOUND', `sqs: the queue \`${queueUrl}\` was deleted`, { cause: error });
        throw classify(error);
      }
    },
    async ack(delivery: Delivery): Promise<void> {
      return deletes.add(delivery.handle as string);
    },
    async release(delivery: Delivery, delay: number): Promise<void> {
      const seconds = Math.min(43_200, Math.ceil(delay / 1000));
      await sdk().send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: delivery.handle as string, VisibilityTimeout: seconds }));
    },
    async extend(delivery: Delivery, lease: number): Promise<void> {
      const seconds = Math.min(43_200, Math.max(1, Math.ceil(lease / 1000)));
      await sdk().send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: delivery.handle as string, VisibilityTimeout: seconds }));
    },
    async deadLetter(delivery: Delivery, reason: DeadLetterReason): Promise<void> {
      const attributes: Attributes = {
        ...delivery.attributes, 'Sideloop-Error-Code': reason.code ?? '-', 'Sideloop-Error-Message': reason.message || '-',
        'Sideloop-Attempt': String(reason.attempt), 'Sideloop-Original-Id': delivery.id,
      };
      await sdk().send(new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, ...encode(delivery.body, attributes) }));
      await sdk().send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: delivery.handle as string }));
    },
    async backlog() {
      if (!queueUrl) return undefined;
      const reply = await sdk().send(new GetQueueAttributesCommand({
        QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }));
      const a = reply.Attributes ?? {};
      return {
        waiting: Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
        inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    },
    async close(): Promise<void> {
      deletes.flush();
      if (client && client !== given) client.destroy();
      client = undefined;
    },
    async publish(body: Body, attributes: Attributes = {}): Promise<string> {
      const url = await resolveUrls();
      const fifo = queueName.endsWith('.fifo') ? { MessageGroupId: 'default' } : {};
      const reply = await sdk().send(new SendMessageCommand({ QueueUrl: url, ...fifo, ...encode(encodeBody(body), attributes) }));
      return reply.MessageId!;
    },
  };
}

function encode(body: Uint8Array, attributes: Attributes): { MessageBody: string; MessageAttributes?: Record<string, MessageAttributeValue> } {
  let text: string;
  const all = { ...attributes };
  try {
    text = utf8.decode(body);
  } catch {
    text = Buffer.from(body).toString('base64');
    all[ENCODING] = 'base64';
  }
  const entries = Object.entries(all);
  if (entries.length === 0) return { MessageBody: text };
  return { MessageBody: text, MessageAttributes: Object.fromEntries(entries.map(([k, v]) => [k, { DataType: 'String', StringValue: v }])) };
}

function toDelivery(message: SqsMessage): Delivery {
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(message.MessageAttributes ?? {})) if (value.StringValue !== undefined) attributes[key] = value.StringValue;
  const base64 = attributes[ENCODING] === 'base64';
  delete attributes[ENCODING];
  const text = message.Body ?? '';
  const body = base64 ? new Uint8Array(Buffer.from(text, 'base64')) : new TextEncoder().encode(text);
  const sent = message.Attributes?.SentTimestamp;
  return {
    id: message.MessageId!, body, attributes, attempt: Number(message.Attributes?.ApproximateReceiveCount ?? 1),
    publishedAt: sent === undefined ? undefined : Number(sent), handle: message.ReceiptHandle,
  };
}

function isMissingQueue(error: unknown): boolean {
  const name = (error as { name?: string; Code?: string })?.name ?? '';
  return /QueueDoesNotExist|NonExistentQueue/.test(name) || /NonExistentQueue|QueueDoesNotExist/.test(String((error as { Code?: string })?.Code));
}

/** Refused credentials are final; anything else is a connection to try again. */
function classify(error: unknown): unknown {
  const name = (error as { name?: string })?.name ?? '';
  if (/AccessDenied|InvalidClientTokenId|UnrecognizedClient|SignatureDoesNotMatch|InvalidSecurity|ExpiredToken/.test(name)) {
    return new SourceError('SIDELOOP_SOURCE_AUTH', `sqs: ${(error as Error).message}`, { cause: error });
  }
  return error;
}
