// The dashboard in headless Chromium when a source stops for good: the health strip turns red with the reason
// /api/health gives (503), and the source's card says failed with its error. The source reads a Redis stream that
// is deleted under it: it reconnects, finds no stream, and that cannot be retried.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startServer, validateConfig } from '../../packages/server/src/index.ts';
import { launchBrowser, skip, WAIT } from './browser.ts';

void test('a source that stops for good turns the health strip red with the reason, and its card failed', { skip, timeout: 120_000 }, async (t) => {
  const stream = `sideloop-dashboard-${randomUUID()}`;
  const admin = new Redis('redis://127.0.0.1:6379');
  t.after(async () => {
    await admin.del(stream, `${stream}:dead`);
    admin.disconnect();
  });
  await admin.call('XGROUP', 'CREATE', stream, 'web', '0', 'MKSTREAM');
  const server = await startServer({
    port: 0, log: () => {},
    config: validateConfig({
      loops: { shop: { module: new URL('./fixtures/orders.ts', import.meta.url).pathname } },
      sources: { orders: { broker: 'redis', url: 'redis://127.0.0.1:6379', stream, group: 'web', handler: { loop: 'shop', fn: 'onOrder' } } },
    }, new URL('.', import.meta.url).pathname, 'test'),
  });
  t.after(() => server.close());
  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  await page.goto(server.url);

  await page.waitForSelector('[data-testid=source-card][data-source=orders][data-state=connected]', WAIT);
  await page.waitForSelector('[data-testid=health][data-status=ok]', WAIT);
  assert.equal(await page.locator('[data-testid=publish-form]').count(), 0, 'no publish form without publish: true');

  await admin.del(stream);
  await page.waitForSelector('[data-testid=health][data-status=unhealthy]', WAIT);
  const reason = await page.locator('[data-testid=health-reason]').first().textContent();
  assert.match(reason ?? '', /source "orders" has stopped for good: SIDELOOP_SOURCE_NOT_FOUND/);
  const colour = await page.locator('[data-testid=health]').evaluate((el) => (globalThis as any).getComputedStyle(el).color as string);
  const [r, g, b] = colour.match(/\d+/g)!.map(Number) as [number, number, number];
  assert.ok(r > g && r > b, `the strip is red: ${colour}`);
  await page.waitForSelector('[data-testid=source-card][data-source=orders][data-state=failed]', WAIT);
  assert.match(await page.locator('[data-testid=source-card][data-source=orders] [data-testid=source-error]').textContent() ?? '', /does not exist/);
  const health = await fetch(new URL('/api/health', server.url));
  assert.equal(health.status, 503);
});
