// A research environment in Debian's Chromium, through the portal's proxy (spec §9): a visitor is
// sent to log in and comes back to /resenv/{openstack_id}/, where the environment's page (a stand-in
// on 127.0.0.1, test/resenv-backend.ts) runs its own inline script and talks to its WebSocket
// through the portal; another user of the portal gets the portal's 404 instead.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { tempDir } from '../process.js';
import { type Backend, startBackend } from '../resenv-backend.js';
import { ensureWebBuilt, launchChromium, listen, logIn, newPage } from './browser.js';

const POLL = { timeout: 15_000, interval: 100 };

let backend: Backend;
let dir: { dir: string; remove: () => void };
let t: TestPortal;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let owner: TestUser;
let other: TestUser;
let vm: string;
const problems: string[] = [];

beforeAll(async () => {
  ensureWebBuilt();
  backend = await startBackend();
  dir = tempDir('simplevm-resenv-browser-');
  const file = path.join(dir.dir, 'resenv.json');
  fs.writeFileSync(file, JSON.stringify([{ template: 'testenv', title: 'Test environment', description: 'A page and a WebSocket echo.', port: backend.port, image_tag: 'resenv-testenv' }]));
  // Every simulated VM gets the address of the stand-in environment's server.
  t = await buildTestApp({ SIMPLEVM_RESENV_FILE: file }, { simFixedIp: '127.0.0.1' });
  base = await listen(t);
  owner = await t.factory.user();
  other = await t.factory.user();
  const project = await t.factory.project({ members: [owner, other] });
  const made = await t.http.post('/api/vms/', {
    as: owner.session,
    body: { project_id: project.id, image_name: 'Ubuntu-24.04', flavor_name: 'de.NBI tiny', vm_name: 'lab', research_environment_backend: { template: 'testenv', user_path: 'lab' } },
  });
  vm = made.data.openstack_id;
  await t.factory.waitFor(owner, `/api/vms/${vm}/`, (d) => d.status === 'ACTIVE');
  browser = await launchChromium();
  context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 } });
  page = await newPage(context, problems);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await backend?.close();
  dir?.remove();
});

describe('a research environment in the browser', () => {
  it('sends a visitor to log in, then shows the environment, whose script and WebSocket work through the portal', async () => {
    await page.goto(`/resenv/${vm}/`);
    await page.waitForURL((u) => u.pathname === '/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe(`/resenv/${vm}/`);
    expect(backend.requests).toHaveLength(0);

    await logIn(page, owner.username);
    await page.waitForURL((u) => u.pathname === `/resenv/${vm}/`);
    await expect.poll(() => page.locator('h1').textContent(), POLL).toBe('Research environment at /lab/');
    // The page's inline script ran (the portal's own pages allow none) and its WebSocket answered.
    await expect.poll(() => page.locator('#ws').textContent(), POLL).toBe('echo:hello from the page');

    expect(backend.requests.map((r) => r.url)).toEqual(['/lab/']);
    expect(backend.upgrades.map((u) => u.url)).toEqual(['/lab/socket']);
    const session = (await context.cookies()).find((c) => c.name === 'simplevm_session')?.value;
    expect(session).toBeTruthy();
    for (const seen of [...backend.requests, ...backend.upgrades]) {
      expect(JSON.stringify(seen.headers)).not.toContain(session!);
      expect(seen.headers['x-csrf-token']).toBeUndefined();
    }
    expect(problems).toEqual([]);
  });

  it('shows another user of the portal the portal\'s 404, and reaches nothing', async () => {
    const requests = backend.requests.length;
    const upgrades = backend.upgrades.length;
    const theirs = await browser.newContext({ baseURL: base });
    try {
      const p = await theirs.newPage();
      await p.goto('/login');
      await logIn(p, other.username);
      await p.waitForURL((u) => u.pathname === '/vms');
      const res = await p.goto(`/resenv/${vm}/`);
      expect(res?.status()).toBe(404);
      expect(await p.locator('body').innerText()).toContain('not_found');
    } finally {
      await theirs.close();
    }
    expect(backend.requests).toHaveLength(requests);
    expect(backend.upgrades).toHaveLength(upgrades);
  });
});
