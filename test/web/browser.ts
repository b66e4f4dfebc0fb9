/**
 * Browser-test support: builds the dashboard from source (so a test never runs against a stale
 * bundle), launches Debian's Chromium through playwright-core (never a downloaded browser), records
 * console errors, and writes screenshots to the git-ignored test-results/screenshots/.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.RIVULET_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const VITE_CONFIG = fileURLToPath(new URL('../../src/web/app/vite.config.ts', import.meta.url));

/** The flags that work on this machine: no sandbox as root, no GPU, no network chatter. */
const FLAGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * A build of its own for each test process: servers other test files start meanwhile never see
 * dist/dashboard half-written, and two browser test files running at once never empty each other's
 * build while its server serves it (they did, with one shared directory).
 */
export const TEST_BUILD = fileURLToPath(new URL(`../../test-results/dashboard-${process.pid}/`, import.meta.url));

export async function buildDashboard(outDir = TEST_BUILD): Promise<string> {
  const { build } = await import('vite');
  await build({ configFile: VITE_CONFIG, logLevel: 'warn', mode: 'production', build: { outDir, emptyOutDir: true } });
  if (outDir === TEST_BUILD) process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
  return outDir;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}. The browser tests drive Debian's Chromium: install it with ` +
        '`apt-get update && apt-get install -y chromium` (.ci/run does this), or point RIVULET_CHROMIUM at a Chromium binary.',
    );
  }
  // Playwright gives every launch a fresh temporary profile (user data dir) and adds --headless and --no-sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: FLAGS });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  shot(name: string, opts?: { fullPage?: boolean }): Promise<void>;
}

export async function openPage(browser: Browser, opts: { width: number; height: number }): Promise<WatchedPage> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const context = await browser.newContext({ viewport: { width: opts.width, height: opts.height }, acceptDownloads: true });
  // Generous on a busy 2-core machine: an action that waits longer is stuck, not slow.
  context.setDefaultTimeout(90_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  return {
    page,
    context,
    errors,
    async shot(name, shotOpts = {}) {
      await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: shotOpts.fullPage ?? true });
    },
  };
}
