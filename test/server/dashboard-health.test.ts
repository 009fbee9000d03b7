// The dashboard's loop colours in a real browser (headless Chromium via playwright-core) against a real
// `startServer()`: each loop card's state pill takes the colour of the one health model (SERVER.md) that
// `/api/health` answers from: green ok, amber degraded (restarting), red unhealthy (health checks failing, crashed,
// failed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { startServer } from '../../packages/server/src/index.ts';
import { launchBrowser, skip, WAIT } from './browser.ts';

const config = new URL('./fixtures/health.config.ts', import.meta.url).pathname;

/** The page's `document`, as far as the functions below that run in the browser use it (no DOM lib here). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  createElement(tag: string): { style: Record<string, string>; remove(): void };
  body: { append(node: unknown): void };
};
declare function getComputedStyle(element: unknown): { color: string };

const card = (loop: string): string => `[data-testid=loop-card][data-loop=${loop}]`;

/** The colour the page's stylesheet gives `tone` (--ok, --warn, --bad), as the browser computes it. */
function toneColor(page: Page, tone: string): Promise<string> {
  return page.evaluate((name) => {
    const probe = document.createElement('span');
    probe.style.color = `var(--${name})`;
    document.body.append(probe);
    const color = getComputedStyle(probe).color;
    probe.remove();
    return color;
  }, tone);
}

/** Waits for `loop`'s card to show `state` and `health`; returns its pill's computed colour and text. */
async function pillOf(page: Page, loop: string, state: string, health: string): Promise<{ color: string; text: string }> {
  await page.waitForSelector(`${card(loop)}[data-state=${state}][data-health=${health}]`, WAIT);
  return page.evaluate((sel) => {
    const pill = document.querySelector(`${sel} [data-testid=loop-state]`);
    return { color: getComputedStyle(pill).color, text: pill?.textContent ?? '' };
  }, card(loop));
}

void test('loop cards take the health model\'s colours: ok, degraded while restarting, unhealthy', { skip, timeout: 180_000 }, async (t) => {
  const server = await startServer({ port: 0, config, statsInterval: 200 });
  t.after(() => server.close());
  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(server.url);
  const run = async (loop: string, fn: string, args: unknown[] = []): Promise<void> => {
    const response = await fetch(new URL(`/api/loops/${loop}/tasks`, server.url), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fn, args }),
    });
    assert.equal(response.status, 202);
  };
  const health = async (): Promise<{ status: number; body: { status: string; reasons: string[] } }> => {
    const response = await fetch(new URL('/api/health', server.url));
    return { status: response.status, body: await response.json() as { status: string; reasons: string[] } };
  };
  const [ok, warn, bad] = await Promise.all([toneColor(page, 'ok'), toneColor(page, 'warn'), toneColor(page, 'bad')]);
  assert.equal(new Set([ok, warn, bad]).size, 3, 'three distinct colours');

  for (const loop of ['checked', 'phoenix', 'fragile', 'spent']) assert.equal((await pillOf(page, loop, 'ready', 'ok')).color, ok, loop);
  assert.equal((await health()).body.status, 'ok');

  await run('checked', 'setHealth', ['false']);
  const failing = await pillOf(page, 'checked', 'ready', 'unhealthy');
  assert.equal(failing.color, bad, 'a ready loop failing its health checks is red');
  assert.match(failing.text, /health checks failing/);
  assert.equal((await health()).status, 503);
  await run('checked', 'setHealth', ['ok']);
  assert.equal((await pillOf(page, 'checked', 'ready', 'ok')).color, ok, 'and green again once a check passes');

  await run('phoenix', 'crash');
  assert.equal((await pillOf(page, 'phoenix', 'restarting', 'degraded')).color, warn, 'restarting is amber');
  const degraded = await health();
  assert.deepEqual([degraded.status, degraded.body.status], [200, 'degraded']);
  assert.equal((await pillOf(page, 'phoenix', 'ready', 'ok')).color, ok, 'and green once the fresh thread is ready');

  await run('fragile', 'crash');
  assert.equal((await pillOf(page, 'fragile', 'crashed', 'unhealthy')).color, bad, 'crashed (no restart policy) is red');
  await run('spent', 'crash');
  assert.equal((await pillOf(page, 'spent', 'failed', 'unhealthy')).color, bad, 'failed (no restarts left) is red');
  const unhealthy = await health();
  assert.equal(unhealthy.status, 503);
  assert.ok(unhealthy.body.reasons.some((reason) => /spent.*failed/.test(reason)), unhealthy.body.reasons.join('; '));
  assert.deepEqual(pageErrors, []);
});
