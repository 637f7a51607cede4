/**
 * A real headless Chromium (Debian's `chromium`, driven by playwright-core) for the
 * end-to-end tests. `.ci/run` installs the package; without it the tests fail and say so.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Quiet, offline, no sandbox (CI runs as root in a container). */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Generous: the suite must pass on a loaded 2-core machine. */
export const WAIT_MS = 60_000;

/** A fresh browser profile, closed and removed when the test ends. */
export async function openBrowser(t: {
  after: (fn: () => Promise<void>) => void;
}): Promise<BrowserContext> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`,
  );
  const profile = mkdtempSync(join(tmpdir(), 'baton-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 800 },
    timeout: WAIT_MS,
  });
  context.setDefaultTimeout(WAIT_MS);
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/** Errors the page threw; a test asserts there were none. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/**
 * With `BATON_SCREENSHOTS=DIR` (`npm run screenshots` sets docs/screenshots), saves the
 * page as DIR/NAME.png; otherwise does nothing, so the tests leave the tree clean.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.BATON_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(resolve(dir), { recursive: true });
  await page.screenshot({ path: join(resolve(dir), `${name}.png`), fullPage: true });
}
