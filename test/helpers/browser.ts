// Debian's Chromium driven by playwright-core, for console tests: headless, no sandbox
// (tests run as root), no background networking (the machine has no network), a fresh
// profile each time, and the gateway's self-signed certificate accepted (loopback only).
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './gateway.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of every main page land here, for people to look at (gitignored). */
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-output', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function newContext(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, viewport });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
