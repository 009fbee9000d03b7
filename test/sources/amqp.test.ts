// The conformance suite on RabbitMQ (the machine's broker on 127.0.0.1:5672), one queue per test. The broker's
// own rabbitmqctl reports unacknowledged messages, which AMQP itself does not.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { amqp } from '../../packages/core/src/sources/amqp.ts';
import { conformance, type Target } from './conformance.ts';
import { tcpProxy } from './tcp-proxy.ts';

const PORT = 5672;
const module = new URL('../../packages/core/src/sources/amqp.ts', import.meta.url).href;
const url = (port: number): string => `amqp://guest:guest@127.0.0.1:${port}`;

/** Every queue of this test (the queue, its retry queues, its dead letters) with ready and unacked counts. */
async function queuesOf(queue: string): Promise<Array<{ name: string; ready: number; unacked: number }>> {
  const { stdout } = await promisify(execFile)('rabbitmqctl', ['list_queues', '-q', '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged']);
  return stdout.trim().split('\n').map((line) => line.split('\t')).filter(([name]) => name?.startsWith(queue))
    .map(([name, ready, unacked]) => ({ name: name!, ready: Number(ready), unacked: Number(unacked) }));
}

conformance({
  name: 'amqp',
  lease: 1000,
  // A name with 403 in it: a missing queue must not read as refused credentials (403 ACCESS-REFUSED).
  missing: () => ({ module, factory: 'amqp', options: { url: url(PORT), queue: `sideloop-missing-403-${randomUUID()}` } }),
  refused: () => ({ module, factory: 'amqp', options: { url: `amqp://guest:not-the-password@127.0.0.1:${PORT}`, queue: `sideloop-refused-${randomUUID()}` } }),
  async target(): Promise<Target> {
    const queue = `sideloop-test-${randomUUID()}`;
    const admin = await amqplib.connect(url(PORT));
    const channel = await admin.createChannel();
    await channel.assertQueue(queue, { durable: true });
    await channel.assertQueue(`${queue}.dead`, { durable: true });
    const producer = amqp({ url: url(PORT), queue });
    const proxy = await tcpProxy(PORT);
    return {
      spec: (proxied) => ({ spec: { module, factory: 'amqp', options: { url: url(proxied ? proxy.port : PORT), queue, create: true } } }),
      publish: (body) => producer.publish(body as never),
      async backlog() {
        const queues = (await queuesOf(queue)).filter((q) => q.name !== `${queue}.dead`);
        return { waiting: queues.reduce((n, q) => n + q.ready, 0), inFlight: queues.reduce((n, q) => n + q.unacked, 0) };
      },
      async deadLetters() {
        const reader = await admin.createChannel();
        const letters = [];
        for (let message; (message = await reader.get(`${queue}.dead`, { noAck: false })) !== false;) {
          const headers = message.properties.headers ?? {};
          letters.push({ attempt: Number(headers['x-attempt']), code: String(headers['x-error-code']), message: String(headers['x-error-message']) });
        }
        await reader.close(); // the letters go back to their queue
        return letters;
      },
      kill: async () => proxy.kill(),
      resume: () => proxy.resume(),
      async cleanup() {
        for (const { name } of await queuesOf(queue)) await channel.deleteQueue(name);
        await producer.close();
        await admin.close();
        await proxy.close();
      },
    };
  },
});
