// The web app's shell and lists at a phone's width and by keyboard (spec §6): the menu folds behind
// a Menu button, table rows become cards whose cells say their column, the VMs page is usable with
// Tab alone, ids have Copy buttons, and the header marks a simulated cloud.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, listen, logIn, newPage, openApp } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };
const PHONE = { width: 390, height: 844 };

let t: TestPortal;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let user: TestUser;
let project: { id: number; name: string };
let vm: { openstack_id: string; name: string };
let volume: { openstack_id: string; name: string };
const consoleProblems: string[] = [];

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  user = await t.factory.user();
  project = await t.factory.project({ admins: [user] });
  vm = (await t.factory.vm(user, project.id)) as unknown as typeof vm;
  volume = (await t.factory.volume(user, project.id)) as unknown as typeof volume;
  await t.factory.key(user, { name: 'nightly', scopes: ['vm:read'] });
  ({ browser, context, page } = await openApp(base, consoleProblems, { clipboard: true }));
  await page.goto('/login');
  await logIn(page, user.username);
  await page.waitForURL((u) => u.pathname === '/vms');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** What has the keyboard focus, as a person would name it. */
const focused = (p: Page) =>
  p.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return el ? `${el.tagName.toLowerCase()} ${el.getAttribute('aria-label') ?? el.textContent?.trim() ?? ''}` : '';
  });

/**
 * Every body cell of every list table on the page: its column's name (the header above it), the
 * cell's data-label, and, at a phone's width, the label the card shows before it (::before).
 */
const cellLabels = (p: Page) =>
  p.evaluate(() =>
    [...document.querySelectorAll('table.list')].flatMap((table) => {
      const columns = [...table.querySelectorAll('thead th')].map((th) => th.textContent?.trim() ?? '');
      return [...table.querySelectorAll('tbody tr')].flatMap((row) =>
        [...row.children].map((cell, i) => ({
          column: columns[i],
          label: (cell as HTMLElement).dataset.label ?? null,
          shown: getComputedStyle(cell, '::before').content,
          rowHeader: cell.tagName === 'TH',
        })),
      );
    }),
  );

describe('on a phone (390 px)', () => {
  let phone: Page;

  beforeAll(async () => {
    const ctx = await browser.newContext({ baseURL: base, viewport: PHONE });
    phone = await newPage(ctx, consoleProblems);
    await phone.goto('/login');
    await logIn(phone, user.username);
    await phone.waitForURL((u) => u.pathname === '/vms');
    await phone.locator(`tr[data-vm="${vm.name}"]`).waitFor();
  });

  afterAll(async () => {
    await phone?.context().close();
  });

  it('folds the menu behind a Menu button that the keyboard opens and closes', async () => {
    const button = phone.getByRole('button', { name: 'Menu' });
    const nav = phone.getByRole('navigation', { name: 'Main' });
    expect(await button.getAttribute('aria-expanded')).toBe('false');
    const menu = phone.locator(`#${await button.getAttribute('aria-controls')}`);
    expect(await menu.count()).toBe(1);
    expect(await menu.isVisible()).toBe(false);
    expect(await nav.getByRole('link', { name: 'Volumes' }).isVisible()).toBe(false);
    expect(await phone.getByRole('button', { name: 'Log out' }).isVisible()).toBe(false);

    // Enter opens it; the links and Log out are in it, and Tab reaches them.
    await button.focus();
    await phone.keyboard.press('Enter');
    expect(await button.getAttribute('aria-expanded')).toBe('true');
    expect(await menu.isVisible()).toBe(true);
    expect(await nav.getByRole('link', { name: 'Volumes' }).isVisible()).toBe(true);
    expect(await menu.getByRole('button', { name: 'Log out' }).isVisible()).toBe(true);
    await phone.keyboard.press('Tab');
    expect(await focused(phone)).toBe('a VMs');

    // Escape closes it and puts focus back on the button.
    await phone.keyboard.press('Escape');
    expect(await button.getAttribute('aria-expanded')).toBe('false');
    expect(await menu.isVisible()).toBe(false);
    expect(await focused(phone)).toBe('button Menu');

    // Enter and Enter again: open, then closed.
    await phone.keyboard.press('Enter');
    expect(await button.getAttribute('aria-expanded')).toBe('true');
    await phone.keyboard.press('Enter');
    expect(await button.getAttribute('aria-expanded')).toBe('false');

    // Following a link closes it.
    await button.click();
    await nav.getByRole('link', { name: 'Volumes' }).click();
    await phone.waitForURL((u) => u.pathname === '/volumes');
    await expect.poll(() => button.getAttribute('aria-expanded'), POLL).toBe('false');
    expect(await menu.isVisible()).toBe(false);
  });

  it('shows each table row as a card, each cell labelled with its column', async () => {
    for (const [path, row] of [
      ['/vms', `tr[data-vm="${vm.name}"]`],
      ['/volumes', `tr[data-volume="${volume.name}"]`],
      ['/profile', 'tr[data-key-prefix]'],
    ] as const) {
      await phone.goto(path);
      const card = phone.locator(row).first();
      await card.waitFor();
      // The column headers are not shown (screen readers keep them); the row is as wide as the screen allows.
      const header = await phone.locator('table.list thead').first().boundingBox();
      expect(header === null || header.width <= 1, path).toBe(true);
      expect(await card.evaluate((tr) => getComputedStyle(tr).display), path).toBe('block');
      const box = await card.boundingBox();
      expect(box!.x, path).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, path).toBeLessThanOrEqual(PHONE.width);
      // Every cell under a named column says that name before its value; the row's own header is the card's title.
      const cells = await cellLabels(phone);
      expect(cells.length, path).toBeGreaterThan(0);
      for (const cell of cells.filter((c) => !c.rowHeader && c.column && c.column !== 'Actions')) {
        expect(cell.label, `${path}: ${cell.column}`).toBe(cell.column);
        expect(cell.shown, `${path}: ${cell.column}`).toBe(`"${cell.column}"`);
      }
      expect(await phone.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(PHONE.width);
    }
  });

  it('keeps the header readable: white on the dark bar, the menu open or not', async () => {
    await phone.goto('/vms');
    // The header is the app's: drawn once the page has learnt who is logged in.
    await phone.locator('.topbar .brand').waitFor();
    const colours = await phone.evaluate(() => {
      const bar = getComputedStyle(document.querySelector('.topbar')!).backgroundColor;
      const brand = getComputedStyle(document.querySelector('.brand')!).color;
      return { bar, brand };
    });
    expect(colours).toEqual({ bar: 'rgb(22, 71, 102)', brand: 'rgb(255, 255, 255)' });
    await phone.getByRole('button', { name: 'Menu' }).click();
    const link = phone.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' });
    expect(await link.evaluate((a) => getComputedStyle(a).color)).toBe('rgb(255, 255, 255)');
    await phone.getByRole('button', { name: 'Menu' }).click();
  });
});

describe('on a wide screen (1280 px)', () => {
  it('shows the menu without a Menu button, and lists as tables', async () => {
    await page.goto('/vms');
    await page.locator(`tr[data-vm="${vm.name}"]`).waitFor();
    expect(await page.locator('.menu-button').isVisible()).toBe(false);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Volumes' }).isVisible()).toBe(true);
    expect(await page.locator(`tr[data-vm="${vm.name}"]`).evaluate((tr) => getComputedStyle(tr).display)).toBe('table-row');
    // The labels are there for the phone's cards only.
    expect((await cellLabels(page)).every((c) => c.shown === 'none' || c.shown === 'normal')).toBe(true);
  });

  it('reaches the New VM button and a VM action with Tab alone, and acts with Enter', async () => {
    await page.goto('/vms');
    await page.locator(`tr[data-vm="${vm.name}"]`).waitFor();
    const seen: string[] = [];
    for (let i = 0; i < 40 && !seen.includes(`button Stop ${vm.name}`); i++) {
      await page.keyboard.press('Tab');
      seen.push(await focused(page));
    }
    expect(seen[0]).toBe('a Skip to content');
    const newVm = seen.indexOf('a New VM');
    const stop = seen.indexOf(`button Stop ${vm.name}`);
    expect(newVm, seen.join(' | ')).toBeGreaterThan(0);
    expect(stop, seen.join(' | ')).toBeGreaterThan(newVm);
    // Start is disabled for an ACTIVE VM, so Tab passes it by.
    expect(seen).not.toContain(`button Start ${vm.name}`);

    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator(`tr[data-vm="${vm.name}"]`).getByTestId('vm-status').textContent(), POLL).toBe('SHUTOFF');
  });

  it('has Copy buttons for the project id and a volume id', async () => {
    await page.goto(`/projects/${project.id}`);
    expect(await page.getByTestId('project-id').textContent()).toBe(String(project.id));
    await page.getByRole('button', { name: 'Copy project id' }).click();
    await page.getByText('Copied', { exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(String(project.id));

    await page.goto('/volumes');
    const row = page.locator(`tr[data-volume="${volume.name}"]`);
    expect(await row.getByTestId('volume-id').textContent()).toBe(volume.openstack_id);
    await row.getByRole('button', { name: `Copy volume id of ${volume.name}` }).click();
    await row.getByText('Copied', { exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(volume.openstack_id);
  });
});

describe('the header', () => {
  it('marks the simulated cloud as such, as the portal says it runs one', async () => {
    // The test portal runs the simulated cloud (the default), and its /api/auth/me says so.
    expect((await t.http.get('/api/auth/me', { as: user.session })).data).toMatchObject({ cloud: 'simulated' });
    const p = await newPage(context, consoleProblems);
    await p.goto('/vms');
    await p.getByRole('heading', { name: 'VMs', level: 1 }).waitFor();
    const mark = p.getByRole('banner').getByText('Simulated cloud', { exact: true });
    expect(await mark.isVisible()).toBe(true);
    await p.setViewportSize(PHONE);
    expect(await mark.isVisible()).toBe(true);
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await p.close();
  });

  it('shows no mark for a real cloud (SIMPLEVM_CLOUD=openstack)', async () => {
    // A portal on OpenStack needs one to start: its /api/auth/me answer is made to say `openstack` instead.
    const p = await newPage(context, consoleProblems);
    await p.route('**/api/auth/me', async (route) => {
      const response = await route.fetch();
      const me = (await response.json()) as Record<string, unknown>;
      await route.fulfill({ response, json: { ...me, cloud: 'openstack' } });
    });
    await p.goto('/vms');
    await p.getByRole('heading', { name: 'VMs', level: 1 }).waitFor();
    expect(await p.getByText('Simulated cloud').count()).toBe(0);
    await p.close();
  });
});

it('logged no script errors or Content-Security-Policy violations', () => {
  expect(consoleProblems).toEqual([]);
});
