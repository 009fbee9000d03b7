// What the browser tests share: Debian's headless Chromium (scripts/ensure-chromium.sh installs it, CHROMIUM_PATH
// points elsewhere), driven by playwright-core, closed when the test ends.
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Generous: the machine may be busy; nothing in the browser tests asserts on timing. */
export const WAIT = { timeout: 45_000 };

/** A test option: skipped, with the reason, on a machine without Chromium. */
export const skip: string | false = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (run scripts/ensure-chromium.sh)`;

/** Launches headless Chromium, closed after test `t`. */
export async function launchBrowser(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  return browser;
}
