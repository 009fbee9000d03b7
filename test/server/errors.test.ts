// The server's errors and the request errors are sideloop errors: each is an `instanceof SideloopError` with its own
// stable code, survives the error codec as its own class, and answers `instanceof` for a second copy of its class.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { LoopInitError, SideloopError } from '../../packages/core/src/index.ts';
import { decodeThrown, encodeThrown } from '../../packages/core/src/error-codec.ts';
import { RequestError } from '../../packages/core/src/remote/index.ts';
import { ConfigError, ServerStartError, loadConfig, startServer } from '../../packages/server/src/index.ts';
import { socketTokenError } from '../../packages/server/src/auth.ts';
import { start } from './helpers.ts';

const hangConfig = new URL('./fixtures/hang.config.ts', import.meta.url).pathname;

function coded(error: unknown, ctor: new (...args: never[]) => Error, code: string): void {
  assert.ok(error instanceof ctor, `a ${ctor.name}, got ${String(error)}`);
  assert.ok(error instanceof SideloopError, 'a SideloopError');
  assert.equal(error.name, ctor.name);
  assert.equal((error as { code?: unknown }).code, code);
}

void describe('server errors', () => {
  void test('ServerStartError: a public host without a token, a port in use, a loop that never gets ready', async () => {
    await assert.rejects(start({ host: '0.0.0.0' }), (error: unknown) => {
      coded(error, ServerStartError, 'SIDELOOP_SERVER_START');
      return true;
    });

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      await assert.rejects(start({ port }), (error: unknown) => {
        coded(error, ServerStartError, 'SIDELOOP_SERVER_START');
        assert.equal(((error as Error).cause as { code?: string }).code, 'EADDRINUSE');
        return true;
      });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }

    await assert.rejects(startServer({ config: hangConfig, port: 0 }), (error: unknown) => {
      coded(error, ServerStartError, 'SIDELOOP_SERVER_START');
      assert.match((error as Error).message, /^Loop "stuck" failed to start/);
      coded((error as Error).cause, LoopInitError, 'SIDELOOP_LOOP_INIT');
      return true;
    });
  });

  void test('ConfigError: a missing file, a bad value', async () => {
    await assert.rejects(loadConfig('/nonexistent/sideloop.config.js'), (error: unknown) => {
      coded(error, ConfigError, 'SIDELOOP_CONFIG');
      assert.equal((error as ConfigError).key, 'config');
      assert.ok((error as Error).cause instanceof TypeError);
      return true;
    });
  });

  void test('RequestError keeps its client-facing code and status; a Socket.IO token refusal is one', () => {
    const error = new RequestError('QUEUE_FULL', 'full');
    coded(error, RequestError, 'QUEUE_FULL');
    assert.equal(error.status, 503);
    const refused = socketTokenError('wrong-token', 'right-token');
    coded(refused, RequestError, 'UNAUTHORIZED');
    assert.equal(refused!.status, 401);
    assert.deepEqual(refused!.data, { code: 'UNAUTHORIZED' }, 'what the client reads in connect_error');
    assert.equal(socketTokenError('right-token', 'right-token'), undefined);
  });

  void test('each class crosses the codec as itself, own properties kept', () => {
    const config = new ConfigError('loops.x.module', 'Expected `loops.x.module` to be a path, got `5`', { cause: new TypeError('inner') });
    const back = decodeThrown(encodeThrown(config)) as ConfigError;
    coded(back, ConfigError, 'SIDELOOP_CONFIG');
    assert.equal(back.key, 'loops.x.module');
    assert.equal(back.message, config.message);
    assert.ok(back.cause instanceof TypeError);
    coded(decodeThrown(encodeThrown(new ServerStartError('no'))), ServerStartError, 'SIDELOOP_SERVER_START');
    const request = decodeThrown(encodeThrown(new RequestError('TASK_SETTLED', 'settled'))) as RequestError;
    coded(request, RequestError, 'TASK_SETTLED');
    assert.equal(request.status, 409);
  });

  void test('a second copy of a class (another bundle of sideloop) agrees on instanceof, by brand and class name', () => {
    // What another copy of the packages would define: its own classes, with the same names and the shared brand.
    const Base = { SideloopError: class extends Error {} }.SideloopError;
    Object.defineProperty(Base.prototype, Symbol.for('sideloop.error'), { value: true });
    const copies = {
      ConfigError: class extends Base {},
      ServerStartError: class extends Base {},
      RequestError: class extends Base {},
    };
    assert.ok(new copies.ConfigError() instanceof ConfigError);
    assert.ok(new copies.ServerStartError() instanceof ServerStartError);
    assert.ok(new copies.RequestError() instanceof RequestError);
    assert.ok(new copies.ConfigError() instanceof SideloopError);
    assert.ok(!(new copies.ConfigError() instanceof ServerStartError), 'never an instance of another class');
    assert.ok(!(new copies.RequestError() instanceof ConfigError));
    // An application's own subclass keeps plain instanceof.
    class AppError extends ConfigError {}
    assert.ok(!(new copies.ConfigError() instanceof AppError));
  });
});
