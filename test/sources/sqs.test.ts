// The conformance suite on SQS, through fauxqs (an SQS emulator) in this process, one queue per test.
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { startFauxqs } from 'fauxqs';
import { sqs } from '../../packages/core/src/sources/sqs.ts';
import { conformance, type Target } from './conformance.ts';
import { tcpProxy } from './tcp-proxy.ts';

const module = new URL('../../packages/core/src/sources/sqs.ts', import.meta.url).href;
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

const server = await startFauxqs({ port: 0, logger: false });
after(() => server.stop());

conformance({
  name: 'sqs',
  lease: 2000, // SQS counts visibility in whole seconds
  missing: () => ({
    module, factory: 'sqs',
    options: { queue: `sideloop-missing-${randomUUID()}`, endpoint: `http://127.0.0.1:${server.port}`, region: 'us-east-1', credentials },
  }),
  async target(): Promise<Target> {
    const queue = `sideloop-test-${randomUUID()}`;
    server.createQueue(queue);
    server.createQueue(`${queue}-dead`);
    const proxy = await tcpProxy(server.port);
    const endpoint = (port: number): string => `http://127.0.0.1:${port}`;
    const options = (port: number) => ({ queue, endpoint: endpoint(port), region: 'us-east-1', credentials, waitTimeSeconds: 1 });
    const producer = sqs(options(server.port));
    return {
      spec: (proxied) => ({ spec: { module, factory: 'sqs', options: { ...options(proxied ? proxy.port : server.port), create: true } } }),
      publish: (body) => producer.publish(body as never),
      async backlog() {
        const { messages } = server.inspectQueue(queue)!;
        return { waiting: messages.ready.length + messages.delayed.length, inFlight: messages.inflight.length };
      },
      async deadLetters() {
        const { messages } = server.inspectQueue(`${queue}-dead`)!;
        return [...messages.ready, ...messages.inflight.map((i) => i.message)].map((m) => ({
          attempt: Number(m.messageAttributes['Sideloop-Attempt']?.StringValue),
          code: m.messageAttributes['Sideloop-Error-Code']?.StringValue,
          message: m.messageAttributes['Sideloop-Error-Message']?.StringValue ?? '',
        }));
      },
      kill: async () => proxy.kill(),
      resume: () => proxy.resume(),
      async cleanup() {
        await producer.close();
        await proxy.close();
        server.deleteQueue(queue);
        server.deleteQueue(`${queue}-dead`);
      },
    };
  },
});
