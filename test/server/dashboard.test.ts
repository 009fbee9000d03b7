// The dashboard page in a real browser: Debian's headless Chromium (driven by playwright-core) against a real
// `startServer()` running the built-in demo on port 0, as a node of a cluster on the shared Redis (a prefix of its own)
// with one more node beside it. It shows the cluster's nodes and queues, sees `item_added` events arrive, shows the `feed` source
// and the server's health, publishes a message from the form and sees it arrive through the embedded SQS, runs
// `primes` on the `cpu` pool and watches its progress bar reach done, cancels a long `primes` while it runs, and
// calls an MCP tool.
// Set DASHBOARD_SCREENSHOT=docs/dashboard.png to save a picture of the page at the end.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { startCluster } from '../../packages/core/src/cluster/index.ts';
import { startServer, type RunningServer } from '../../packages/server/src/index.ts';
import { dropPrefix } from '../cluster/drop-prefix.ts';
import { launchBrowser, skip, WAIT } from './browser.ts';
import { client, connected } from './helpers.ts';

/** n for the task that runs to completion: large enough for several progress reports, small enough to finish soon. */
const PRIMES_N = 400_000_000;
/** π(4·10^8), the number of primes below PRIMES_N. */
const PRIMES_BELOW_N = 21_336_326;
/** The demo's largest accepted n: keeps the pool busy until cancelled. */
const PRIMES_HUGE = 100_000_000_000;

/** The page's `document`, as far as the functions below that run in the browser use it (no DOM lib here). */
declare const document: {
  querySelector(selector: string): {
    textContent: string | null; getAttribute(name: string): string | null; hasAttribute(name: string): boolean;
    getBoundingClientRect(): { x: number; y: number; width: number; height: number };
  } | null;
  querySelectorAll(selector: string): { length: number };
};
declare function requestAnimationFrame(callback: () => void): number;

async function runTask(page: Page, loop: string, fn: string, args: unknown[]): Promise<string> {
  const before = await page.locator('[data-testid=task-item]').count();
  await page.selectOption('[data-testid=run-loop]', loop);
  await page.selectOption('[data-testid=run-fn]', fn);
  await page.fill('[data-testid=run-args]', JSON.stringify(args));
  await click(page, '[data-testid=run-submit]');
  // The new task is the first row once the submit acknowledgement arrives.
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=task-item]').length > n, before, WAIT);
  const id = await page.locator('[data-testid=task-item]').first().getAttribute('data-task-id');
  assert.ok(id, 'the task row carries its id');
  return id;
}

/**
 * Clicks as a user would: Playwright waits until the element is visible, enabled and stable (in one place for two
 * frames in a row). When it never is, the error says what the page did in the second after: the frames it drew,
 * every box the element had, and whether it was disabled.
 */
async function click(page: Page, selector: string): Promise<void> {
  try {
    await page.click(selector);
  } catch (error) {
    let timer: NodeJS.Timeout | undefined;
    const seen = await Promise.race([
      page.evaluate(async (sel) => {
        let frames = 0;
        let counting = true;
        const tick = (): void => {
          frames++;
          if (counting) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
        const boxes = new Set<string>();
        let disabled = false;
        for (let i = 0; i < 10; i++) {
          const el = document.querySelector(sel);
          const box = el?.getBoundingClientRect();
          boxes.add(box ? `${box.x},${box.y} ${box.width}x${box.height}` : 'absent');
          disabled ||= el?.hasAttribute('disabled') === true;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        counting = false;
        return { framesInOneSecond: frames, boxes: [...boxes], disabled };
      }, selector),
      new Promise((resolve) => { timer = setTimeout(resolve, 10_000, 'the page did not answer within 10 s'); }),
    ]).catch((cause: unknown) => `the page could not be read: ${String(cause)}`).finally(() => clearTimeout(timer));
    throw new Error(`${(error as Error).message}\nThe page in the second after: ${JSON.stringify(seen)}`, { cause: error });
  }
}

const row = (id: string): string => `[data-testid=task-item][data-task-id="${id}"]`;

/** Polls a task row's progress bar until the task settles, returning every percentage the bar showed. */
async function progressSeen(page: Page, id: string): Promise<number[]> {
  const seen: number[] = [];
  const deadline = Date.now() + 90_000;
  for (;;) {
    const info = await page.locator(row(id)).evaluate((el) => ({
      state: el.getAttribute('data-state'),
      now: el.querySelector('[data-testid=task-progress]')?.getAttribute('aria-valuenow') ?? null,
    }));
    if (info.now !== null && seen.at(-1) !== Number(info.now)) seen.push(Number(info.now));
    if (info.state === 'fulfilled' || info.state === 'rejected' || info.state === 'cancelled') return seen;
    assert.ok(Date.now() < deadline, `task ${id} did not settle; progress seen: ${seen.join(', ')}`);
    await page.waitForTimeout(50);
  }
}

void test('the dashboard shows the demo live and runs, follows and cancels tasks', { skip, timeout: 180_000 }, async (t) => {
  const REDIS = 'redis://127.0.0.1:6379';
  const cluster = { redis: REDIS, node: 'dashboard', prefix: `test-dashboard-${randomUUID()}` };
  // Replaced once, by the restart in the last step.
  let server: RunningServer = await startServer({ port: 0, cluster });
  // A test that timed out goes on running: a server its last step starts after this cleanup is closed there.
  let cleanedUp = false;
  t.after(async () => {
    cleanedUp = true;
    await server.close();
  });
  const peer = await startCluster({ redis: REDIS, prefix: cluster.prefix, node: 'peer', heartbeatInterval: 1000 });
  t.after(async () => {
    await peer.close();
    const admin = new Redis(REDIS);
    await dropPrefix(admin, cluster.prefix);
    admin.disconnect();
  });
  const browser = await launchBrowser(t);
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const { url } = message.location();
    // GET /api/health answers 503 while the server is unhealthy, which the page shows as data (use-poll.js); the
    // browser logs the status of every such answer all the same. Any other failed request is an error.
    if (/status of 503\b/.test(message.text()) && url.endsWith('/api/health')) return;
    pageErrors.push(`${message.text()} (${url || 'no url'})`);
  });
  await page.goto(server.url);
  const api = async (path: string): Promise<any> => (await fetch(new URL(path, server.url))).json();

  await t.test('connects and shows every loop and pool', async () => {
    await page.waitForSelector('[data-testid=connection-status][data-state=connected]', WAIT);
    await page.waitForSelector('[data-testid=loop-card][data-loop=mcp][data-state=ready]', WAIT);
    await page.waitForSelector('[data-testid=loop-card][data-loop=cpu][data-state=ready]', WAIT);
    const exposed = await page.locator('[data-testid=loop-card][data-loop=cpu] .loop-sub').textContent();
    assert.match(exposed ?? '', /primes/);
  });

  await t.test("shows the cluster's nodes, what they serve, and the durable queues", async () => {
    await page.waitForSelector('[data-testid=cluster-node][data-node=dashboard][data-alive=true]', WAIT);
    await page.waitForSelector('[data-testid=cluster-node][data-node=peer][data-alive=true]', WAIT);
    const serves = async (node: string): Promise<string | null> => page.locator(`[data-testid=cluster-node][data-node=${node}] [data-testid=cluster-node-serves]`).textContent();
    assert.equal(await serves('dashboard'), 'serves cpu, mcp');
    assert.equal(await serves('peer'), 'serves nothing (submits only)');
    assert.match(await page.locator('[data-testid=cluster-node][data-node=peer] [data-testid=cluster-node-seen]').textContent() ?? '', /^heartbeat .+ ago$/);
    await page.waitForSelector('[data-testid=cluster-queue][data-loop=cpu]', WAIT);
    await page.waitForSelector('[data-testid=cluster-queue][data-loop=mcp]', WAIT);
    // A durable task on the cpu pool is counted in its queue once it completed.
    const { status } = await fetch(new URL('/api/loops/cpu/tasks?wait=1', server.url), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fn: 'primes', args: [1000], durable: true }),
    });
    assert.equal(status, 200);
    await page.waitForFunction(() => document.querySelector('[data-testid=cluster-queue][data-loop=cpu] [data-testid=cluster-queue-completed]')?.textContent === '1', undefined, WAIT);
  });

  await t.test('shows item_added events arriving, newest first', async () => {
    // The feed handles four messages at a time, so its events may arrive out of `seq` order: newest is the last to
    // arrive, as a Socket.IO client of the test's own gets them (a broadcast reaches every client in one order).
    const watcher = client(server);
    const arrived: number[] = [];
    watcher.on('item_added' as never, ((item: { seq: number }) => arrived.push(item.seq)) as never);
    try {
      await connected(watcher);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=event-item][data-event=item_added]').length >= 2, undefined, WAIT);
      const first = await page.locator('[data-testid=event-item]').first().textContent();
      // A newer event takes the top of the list.
      await page.waitForFunction((old) => document.querySelector('[data-testid=event-item]')?.textContent !== old, first, WAIT);
      // The events both have seen, in the page's order and in reverse order of arrival; the page may lag behind.
      const compare = async (): Promise<{ shown: number[]; expected: number[] }> => {
        const seqs = await page.locator('[data-testid=event-item][data-event=item_added] .event-body').evaluateAll((els) =>
          els.map((el) => (JSON.parse(el.getAttribute('title') ?? '{}') as { seq?: number }).seq));
        const shown = seqs.filter((seq): seq is number => seq !== undefined && arrived.includes(seq));
        return { shown, expected: arrived.filter((seq) => shown.includes(seq)).reverse() };
      };
      let seen = await compare();
      for (const deadline = Date.now() + WAIT.timeout; seen.shown.length < 3; seen = await compare()) {
        assert.ok(Date.now() < deadline, `three events on the page that the test's client got too: ${JSON.stringify(seen)}`);
        await page.waitForTimeout(100);
      }
      assert.deepEqual(seen.shown, seen.expected, 'newest first');
    } finally {
      watcher.close();
    }
  });

  await t.test('shows the feed source connected and counting, and the server healthy', async () => {
    await page.waitForSelector('[data-testid=source-card][data-source=feed][data-state=connected]', WAIT);
    await page.waitForFunction(() => {
      const acked = document.querySelector('[data-testid=source-card][data-source=feed] [data-testid=source-acked]')?.textContent;
      return Number(acked) >= 1;
    }, undefined, WAIT);
    assert.match(await page.locator('[data-testid=source-card][data-source=feed]').textContent() ?? '', /sqs/);
    await page.waitForSelector('[data-testid=health][data-status=ok]', WAIT);
  });

  await t.test('publishes a message from the form and shows it arrive as item_added', async () => {
    const marker = `from the form ${randomUUID()}`;
    await page.fill('[data-testid=publish-body]', JSON.stringify({ kind: 'manual', text: marker }));
    await click(page, '[data-testid=publish-submit]');
    await page.waitForFunction(() => /Published to feed/.test(document.querySelector('[data-testid=publish-message]')?.textContent ?? ''), undefined, WAIT);
    await page.waitForFunction((m) => (document.querySelector('[data-testid=events-list]')?.textContent ?? '').includes(m), marker, WAIT);
    await page.fill('[data-testid=publish-body]', '{ not json');
    assert.match(await page.locator('[data-testid=publish-message]').textContent() ?? '', /Not valid JSON/);
    assert.equal(await page.locator('[data-testid=publish-submit]').isDisabled(), true);
    await page.fill('[data-testid=publish-body]', JSON.stringify({ kind: 'manual', text: 'hello from the dashboard' }));
    assert.equal(await page.locator('[data-testid=publish-submit]').isDisabled(), false);
  });

  await t.test('draws the event-loop delay of main and every loop', async () => {
    await page.waitForSelector('[data-testid=delay-chart] canvas', WAIT);
    await page.waitForFunction(() => /\d ms/.test(document.querySelector('[data-testid=delay-legend]')?.textContent ?? ''), undefined, WAIT);
    const legend = await page.locator('[data-testid=delay-legend]').textContent();
    for (const name of ['main', 'mcp', 'feed', 'cpu']) assert.match(legend ?? '', new RegExp(name));
  });

  await t.test('runs primes on the cpu pool and follows its progress bar to done', async () => {
    const id = await runTask(page, 'cpu', 'primes', [PRIMES_N]);
    const seen = await progressSeen(page, id);
    await page.waitForSelector(`${row(id)}[data-state=fulfilled]`, WAIT);
    assert.equal(await page.locator(`${row(id)} [data-testid=task-progress]`).getAttribute('aria-valuenow'), '100');
    assert.ok(seen.some((p) => p > 0 && p < 100), `the bar moved through intermediate values: ${seen.join(', ')}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `progress only grows: ${seen.join(', ')}`);
    const result = await page.locator(`${row(id)} [data-testid=task-result]`).textContent();
    assert.equal(Number((result ?? '').replace(/\D/g, '')), PRIMES_BELOW_N);
    assert.equal(await page.locator(`${row(id)} [data-testid=task-cancel]`).count(), 0, 'no cancel button once done');
    const view = await api(`/api/tasks/${id}`);
    assert.equal(view.state, 'fulfilled');
    assert.equal(view.value, PRIMES_BELOW_N);
  });

  await t.test('cancels a running task from its cancel button', async () => {
    const id = await runTask(page, 'cpu', 'primes', [PRIMES_HUGE]);
    // Wait until it is really running on the pool (it has reported progress), then cancel it.
    await page.waitForFunction((sel) => {
      const bar = document.querySelector(`${sel} [data-testid=task-progress]`);
      return document.querySelector(sel)?.getAttribute('data-state') === 'running' && bar?.hasAttribute('aria-valuenow');
    }, row(id), WAIT);
    await click(page, `${row(id)} [data-testid=task-cancel]`);
    await page.waitForSelector(`${row(id)}[data-state=cancelled]`, WAIT);
    assert.equal(await page.locator(`${row(id)} [data-testid=task-cancel]`).count(), 0);
    const view = await api(`/api/tasks/${id}`);
    assert.equal(view.state, 'cancelled');
    // The pool's card counts it once the next stats snapshot arrives.
    await page.waitForFunction(() => {
      const text = document.querySelector('[data-testid=loop-card][data-loop=cpu] [data-testid=loop-cancelled]')?.textContent;
      return Number(text) >= 1;
    }, undefined, WAIT);
  });

  await t.test('calls an MCP tool on the mcp loop', async () => {
    const id = await runTask(page, 'mcp', 'callTool', ['echo', { message: 'hi from the dashboard' }]);
    await page.waitForSelector(`${row(id)}[data-state=fulfilled]`, WAIT);
    const result = await page.locator(`${row(id)} [data-testid=task-result]`).textContent();
    assert.match(result ?? '', /hi from the dashboard/);
  });

  await t.test('shows why a call is refused', async () => {
    await page.selectOption('[data-testid=run-loop]', 'cpu');
    await page.fill('[data-testid=run-args]', '{"not": "an array"}');
    assert.match(await page.locator('[data-testid=run-error]').textContent() ?? '', /JSON array/);
    assert.equal(await page.locator('[data-testid=run-submit]').isDisabled(), true);
    await page.fill('[data-testid=run-args]', '[-5]');
    await click(page, '[data-testid=run-submit]');
    // A bad argument is the task's own failure: the row settles as failed with the loop's message.
    await page.waitForSelector('[data-testid=task-item][data-state=rejected] [data-testid=task-error]', WAIT);
    const error = await page.locator('[data-testid=task-item][data-state=rejected] [data-testid=task-error]').first().textContent();
    assert.match(error ?? '', /Expected `n`/);
  });

  const screenshot = process.env.DASHBOARD_SCREENSHOT;
  if (screenshot) {
    // A task in flight and some chart history make a better picture.
    const id = await runTask(page, 'cpu', 'primes', [PRIMES_N * 10]);
    await page.waitForTimeout(12_000);
    await page.screenshot({ path: screenshot, fullPage: true });
    await click(page, `${row(id)} [data-testid=task-cancel]`);
    await page.waitForSelector(`${row(id)}[data-state=cancelled]`, WAIT);
  }

  assert.deepEqual(pageErrors, [], 'the page logged no errors');

  await t.test('says so when the server goes away, and comes back with it', async () => {
    const port = server.port;
    await server.close();
    await page.waitForSelector('[data-testid=connection-status][data-state=reconnecting]', WAIT);
    server = await startServer({ port, cluster });
    if (cleanedUp) return server.close();
    await page.waitForSelector('[data-testid=connection-status][data-state=connected]', WAIT);
    await page.waitForSelector('[data-testid=loop-card][data-loop=cpu][data-state=ready]', WAIT);
  });
});

void test('the dashboard asks for the token a server requires, and uses it', { skip, timeout: 120_000 }, async (t) => {
  const server = await startServer({ port: 0, token: 'open-sesame' });
  t.after(() => server.close());
  const browser = await launchBrowser(t);

  await t.test('without a token it says one is needed, then connects with the one typed in', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector('[data-testid=connection-status][data-state=unauthorized]', WAIT);
    await page.fill('[data-testid=token-form] input', 'open-sesame');
    await click(page, '[data-testid=token-form] button');
    await page.waitForSelector('[data-testid=connection-status][data-state=connected]', WAIT);
    await page.waitForSelector('[data-testid=loop-card][data-loop=cpu][data-state=ready]', WAIT);
    await page.close();
  });

  await t.test('a token in the address is used and then removed from it', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?token=open-sesame`);
    await page.waitForSelector('[data-testid=connection-status][data-state=connected]', WAIT);
    await page.waitForSelector('[data-testid=loop-card][data-loop=mcp][data-state=ready]', WAIT);
    assert.doesNotMatch(page.url(), /token/);
    const id = await runTask(page, 'mcp', 'callTool', ['echo', { message: 'with a token' }]);
    await page.waitForSelector(`${row(id)}[data-state=fulfilled]`, WAIT);
    await page.close();
  });
});
