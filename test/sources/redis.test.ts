// The conformance suite on Redis Streams (the machine's Redis on 127.0.0.1:6379), one stream per test.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { redis } from '../../packages/core/src/sources/redis.ts';
import { conformance, type Target } from './conformance.ts';
import { tcpProxy } from './tcp-proxy.ts';

const PORT = 6379;
const module = new URL('../../packages/core/src/sources/redis.ts', import.meta.url).href;

conformance({
  name: 'redis',
  lease: 1000,
  missing: () => ({ module, factory: 'redis', options: { url: `redis://127.0.0.1:${PORT}`, stream: `sideloop-missing-${randomUUID()}`, group: 'none' } }),
  // Redis 6's ACL: a user that does not exist is refused (WRONGPASS), with or without a default password.
  refused: () => ({ module, factory: 'redis', options: { url: `redis://sideloop-nobody:not-the-password@127.0.0.1:${PORT}`, stream: `sideloop-refused-${randomUUID()}`, group: 'none' } }),
  async target(): Promise<Target> {
    const stream = `sideloop-test-${randomUUID()}`;
    const group = 'conformance';
    const admin = new Redis(PORT, '127.0.0.1');
    const producer = redis({ url: `redis://127.0.0.1:${PORT}`, stream });
    const proxy = await tcpProxy(PORT);
    await admin.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM');
    return {
      spec: (proxied) => ({
        spec: { module, factory: 'redis', options: { url: `redis://127.0.0.1:${proxied ? proxy.port : PORT}`, stream, group, create: true } },
      }),
      publish: (body) => producer.publish(body as never),
      async backlog() {
        const info = ((await admin.call('XINFO', 'GROUPS', stream)) as unknown[][])[0]!;
        const field = (key: string): number => Number(info[info.indexOf(key) + 1]);
        return { waiting: field('lag'), inFlight: field('pending') };
      },
      async deadLetters() {
        const entries = (await admin.xrange(`${stream}:dead`, '-', '+'));
        return entries.map(([, fields]) => {
          const map = new Map<string, string>();
          for (let i = 0; i < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
          return { attempt: Number(map.get('attempt')), code: map.get('code'), message: map.get('message')! };
        });
      },
      kill: async () => proxy.kill(),
      resume: () => proxy.resume(),
      async cleanup() {
        await admin.del(stream, `${stream}:dead`);
        admin.disconnect();
        await producer.close();
        await proxy.close();
      },
    };
  },
});
