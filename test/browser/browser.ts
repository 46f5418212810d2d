// Shared by the browser tests and `npm run screenshots`: Debian's Chromium through playwright-core,
// and a web build that is not older than web/.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { PASSWORD, type TestPortal } from '../helpers.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB = join(ROOT, 'web');
const BUILT = join(WEB, 'dist', 'index.html');

/** Launches Chromium with a fresh temporary profile (playwright's default). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * `npm install` builds web/dist; this rebuilds it when it is missing or older than web/ (or the
 * parts of src/ the app imports), so a test never runs against a stale app. Returns whether it built.
 */
export function ensureWebBuilt(): boolean {
  // The app is built from web/ and from what it imports of src/: the contract's lists and the typed client.
  const newest = Math.max(newestSource(WEB), newestSource(join(ROOT, 'src', 'shared')), newestSource(join(ROOT, 'src', 'client')));
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= newest) return false;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(WEB, 'vite.config.ts'), '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return true;
}

/** Makes the portal listen on a free local port; returns its base URL. */
export async function listen(portal: TestPortal): Promise<string> {
  await portal.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(portal.app.server.address() as AddressInfo).port}`;
}

/** A page that records script errors in `problems` (but not a failed fetch the app handles, like a 401 before login). */
export async function newPage(ctx: BrowserContext, problems: string[]): Promise<Page> {
  const p = await ctx.newPage();
  p.setDefaultTimeout(15_000);
  p.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(msg.text());
  });
  p.on('pageerror', (err) => problems.push(String(err)));
  // The portal never answers a page's call with a server error or a throttle in these tests.
  p.on('response', (res) => {
    if (res.status() >= 500 || res.status() === 429) problems.push(`${res.status()} ${res.request().method()} ${res.url()}`);
  });
  return p;
}

/**
 * Chromium with one page on the portal at `base` (1280 × 900), its script errors collected in
 * `problems`; `clipboard`: copy buttons may write and the test may read; `downloads`: kept.
 */
export async function openApp(base: string, problems: string[], opts: { clipboard?: boolean; downloads?: boolean } = {}): Promise<{ browser: Browser; context: BrowserContext; page: Page }> {
  const browser = await launchChromium();
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 }, ...(opts.downloads ? { acceptDownloads: true } : {}) });
  if (opts.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  return { browser, context, page: await newPage(context, problems) };
}

/** Fills in and sends the login page. */
export async function logIn(p: Page, username: string, password = PASSWORD): Promise<void> {
  await p.getByLabel('Username').fill(username);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Log in' }).click();
}
