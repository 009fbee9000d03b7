// The conformance suite on memorySource. Its broker is a loop of its own (test/fixtures/sources/memory-broker.js)
// that outlives the consumer loops, so a consumer's crash leaves its leased messages there, as with a real broker.
import { startLoop, type Loop } from '../../packages/core/src/index.ts';
import { fixture } from '../helpers.ts';
import { conformance, type Target } from './conformance.ts';

conformance({
  name: 'memory',
  lease: 1000,
  async target(): Promise<Target> {
    const broker: Loop = await startLoop(fixture('sources/memory-broker.js'), { name: 'memory-broker' });
    return {
      spec() {
        const handle = broker.share();
        const module = new URL('../fixtures/sources/remote-memory.js', import.meta.url).href;
        return { spec: { module, factory: 'remoteMemory', options: { handle } }, transferList: [handle.port] };
      },
      publish: (body) => broker.submit('publish', body),
      backlog: () => broker.submit('backlog'),
      deadLetters: async () => (await broker.submit('deadLetters')).map((d: any) => ({ attempt: d.attempt, ...d.error })),
      kill: () => broker.submit('interrupt'),
      resume() {},
      cleanup: () => broker.close({ timeout: 5000 }),
    };
  },
});
