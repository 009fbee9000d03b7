// The conformance suite on NATS JetStream (the machine's server on 127.0.0.1:4222), one stream per test; refused
// credentials on a nats-server of this file's own, since the machine's takes anyone.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { nats } from '../../packages/core/src/sources/nats.ts';
import { conformance, type Target } from './conformance.ts';
import { tcpProxy } from './tcp-proxy.ts';

const PORT = 4222;
const module = new URL('../../packages/core/src/sources/nats.ts', import.meta.url).href;

/** A nats-server that checks credentials, on a loopback port it picks; its log is read to the end (Go dies writing to a closed pipe). */
async function guardedServer(): Promise<{ port: number; stop(): void }> {
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', '-1', '--user', 'sideloop', '--pass', 'the-password'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject).once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      const found = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (found) resolve(Number(found[1]));
    });
  });
  return { port, stop: () => child.kill() };
}

const guarded = await guardedServer();
after(() => guarded.stop());

conformance({
  name: 'nats',
  lease: 1000,
  missing: () => ({ module, factory: 'nats', options: { servers: `127.0.0.1:${PORT}`, stream: `sideloop-missing-${randomUUID()}`, consumer: 'none', subject: `sideloop.missing.${randomUUID()}` } }),
  refused: () => ({ module, factory: 'nats', options: { servers: `nats://sideloop:not-the-password@127.0.0.1:${guarded.port}`, stream: `sideloop-refused-${randomUUID()}`, consumer: 'none', subject: `sideloop.refused.${randomUUID()}` } }),
  async target(): Promise<Target> {
    const id = randomUUID();
    const stream = `sideloop-test-${id}`;
    const subject = `sideloop.test.${id}`;
    const dead = `${subject}.dead`;
    const consumer = 'conformance';
    const nc = await connect({ servers: `127.0.0.1:${PORT}` });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject, dead] });
    await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: AckPolicy.Explicit, filter_subject: subject });
    const producer = nats({ servers: `127.0.0.1:${PORT}`, stream, subject });
    const proxy = await tcpProxy(PORT);
    // nats-server before 2.11 rolled its delivery pointer back when a redelivery found no pull waiting, so the message
    // before it came again with a delivery count of 1 (nats-io/nats-server#5305); seen here after a consumer crash.
    const [major = 0, minor = 0] = (nc.info?.version ?? '0.0').split('.').map(Number);
    const countsBack = major < 2 || (major === 2 && minor < 11);
    return {
      recountsFirstDelivery: countsBack ? `nats-server ${nc.info?.version} can deliver a message again with delivery count 1 after a redelivery found no pull waiting (nats-io/nats-server#5305)` : undefined,
      spec: (proxied) => ({
        spec: { module, factory: 'nats', options: { servers: `127.0.0.1:${proxied ? proxy.port : PORT}`, stream, consumer, subject, create: true } },
      }),
      publish: (body) => producer.publish(body as never),
      async backlog() {
        const info = await jsm.consumers.info(stream, consumer);
        return { waiting: info.num_pending, inFlight: info.num_ack_pending };
      },
      async deadLetters() {
        const count = (await jsm.streams.info(stream, { subjects_filter: dead })).state.subjects?.[dead] ?? 0;
        const letters = [];
        if (count > 0) {
          // A reader of its own (filter_subjects, which ordered consumers use, needs a newer server than this one).
          await jsm.consumers.add(stream, { durable_name: 'dead-reader', filter_subject: dead, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
          const reader = await jetstream(nc).consumers.get(stream, 'dead-reader');
          for await (const m of await reader.fetch({ max_messages: count, expires: 2000 })) {
            letters.push({ attempt: Number(m.headers?.get('Sideloop-Attempt')), code: m.headers?.get('Sideloop-Error-Code'), message: m.headers?.get('Sideloop-Error-Message') ?? '' });
          }
          await jsm.consumers.delete(stream, 'dead-reader');
        }
        return letters;
      },
      kill: async () => proxy.kill(),
      resume: () => proxy.resume(),
      async cleanup() {
        await jsm.streams.delete(stream);
        await producer.close();
        await nc.close();
        await proxy.close();
      },
    };
  },
});
