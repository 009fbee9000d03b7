// The dashboard in a real browser (headless Chromium via playwright-core) against a real `startServer()` whose loop
// emits a burst of relayed events: the page applies what the socket brings once a frame, so it keeps up with ten
// thousand events sent as fast as the server can, shows the last one, and answers what is typed straight after.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../../packages/server/src/index.ts';
import { launchBrowser, skip, WAIT } from './browser.ts';

/**
 * For the page to take in the whole burst: seconds, or half a minute on a very busy machine. The page that drew
 * once per event had not taken it in after these two minutes (load average 15 on 2 CPUs).
 */
const BURST_WAIT = { timeout: 120_000 };
const config = new URL('./fixtures/burst.config.ts', import.meta.url).pathname;
const COUNT = 10_000;

/** The page's `document`, as far as the functions below that run in the browser use it (no DOM lib here). */
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

void test('the dashboard keeps up with a burst of relayed events and still answers what is typed', { skip, timeout: 300_000 }, async (t) => {
  const server = await startServer({ port: 0, config });
  t.after(() => server.close());
  const browser = await launchBrowser(t);
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(server.url);
  await page.waitForSelector('[data-testid=connection-status][data-state=connected]', WAIT);

  // ?wait=1 answers once the loop has emitted them all; the page may still be receiving them.
  const response = await fetch(new URL('/api/loops/work/tasks?wait=1', server.url), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fn: 'blobs', args: ['burst', 40, COUNT] }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal((await response.json()).value, 40 * COUNT);

  await page.waitForFunction((n) => document.querySelector('[data-testid=events-total]')?.textContent?.startsWith(`${n.toLocaleString('en-US')} received`), COUNT, BURST_WAIT);
  const newest = await page.locator('[data-testid=event-item]').first().textContent();
  assert.match(newest ?? '', new RegExp(`${COUNT - 1}:x+`), 'the newest event is on top');
  assert.equal(await page.locator('[data-testid=event-item]').count(), 60, 'the page keeps the last 60');

  // Still a page that answers: the run form reacts to what is typed.
  await page.selectOption('[data-testid=run-loop]', 'work');
  await page.fill('[data-testid=run-args]', '{"not": "an array"}');
  await page.waitForFunction(() => /JSON array/.test(document.querySelector('[data-testid=run-error]')?.textContent ?? ''), undefined, WAIT);
  assert.deepEqual(pageErrors, []);
});
