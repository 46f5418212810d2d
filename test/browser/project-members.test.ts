// A project's page (spec §6: /projects/{id}) in Debian's Chromium against a real listening portal:
// its flavors and images, its members, and for the project's admins and superusers adding a member,
// setting a member's role and removing one (with a confirmation), with the API's refusals shown
// (an unknown user, the last admin). A member who is not an admin sees the list without controls.
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp, unique } from '../helpers.js';
import { ensureWebBuilt, launchChromium, listen, logIn, newPage } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };

let t: TestPortal;
let base: string;
let browser: Browser;
let ada: TestUser;
let max: TestUser;
let olga: TestUser;
let root: TestUser;
let project: { id: number; name: string };
const consoleProblems: string[] = [];
const contexts: BrowserContext[] = [];

/** A fresh browser (own cookies) logged in as `user` on the project's page. */
async function projectPageAs(user: TestUser): Promise<Page> {
  const ctx = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 } });
  contexts.push(ctx);
  const p = await newPage(ctx, consoleProblems);
  await p.goto(`/projects/${project.id}`);
  await logIn(p, user.username);
  await p.waitForURL((u) => u.pathname === `/projects/${project.id}`);
  await p.getByRole('heading', { name: project.name, level: 1 }).waitFor();
  return p;
}

const members = (p: Page) => p.getByRole('region', { name: 'Members' });
/** The members shown, as [username, role] in the order of the table. */
const shownMembers = (p: Page) =>
  members(p).locator('tbody tr').evaluateAll((rows) => rows.map((r) => [r.querySelector('th')?.textContent ?? '', r.querySelector('td')?.textContent ?? '']));
/** The members as the API has them. */
const apiMembers = async () => (await t.http.get(`/api/projects/${project.id}/members/`, { as: root.session })).data as { username: string; role: string }[];
const roleOf = async (username: string) => (await apiMembers()).find((m) => m.username === username)?.role ?? null;
const notice = (p: Page) => members(p).getByRole('status');
const addForm = (p: Page) => members(p).getByRole('form', { name: 'Add a member' });

async function add(p: Page, username: string, role: 'Member' | 'Admin'): Promise<void> {
  const form = addForm(p);
  await form.getByLabel('Username', { exact: true }).fill(username);
  await form.getByLabel('Role', { exact: true }).selectOption({ label: role });
  await form.getByRole('button', { name: 'Add member' }).click();
}

/** The texts of the elements that describe a field. */
const describedBy = (field: Locator) =>
  field.evaluate((el) => (el.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean).map((id) => document.getElementById(id)?.textContent ?? ''));

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  // Named so that the API's order (by username) is the order of these names.
  ada = await t.factory.user({ name: unique('ada') });
  max = await t.factory.user({ name: unique('max') });
  olga = await t.factory.user({ name: unique('olga') });
  root = await t.factory.user({ superuser: true, name: unique('root') });
  project = await t.factory.project({ admins: [ada], members: [max] });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const ctx of contexts) await ctx.close();
  await browser?.close();
  await t?.close();
});

describe("a project's page", () => {
  let adaPage: Page;

  it('shows the flavors and images of the project, as the API lists them', async () => {
    adaPage = await projectPageAs(ada);
    const flavors = adaPage.getByRole('region', { name: 'Flavors' });
    const images = adaPage.getByRole('region', { name: 'Images' });
    const apiFlavors = (await t.http.get(`/api/projects/${project.id}/flavors/`, { as: ada.session })).data as { name: string; vcpus: number; ram_gb: number; disk_gb: number }[];
    const apiImages = (await t.http.get(`/api/projects/${project.id}/images/`, { as: ada.session })).data as { name: string; tags: string[] }[];
    expect(apiFlavors.map((f) => f.name)).toContain('de.NBI small');

    const flavorTable = flavors.getByRole('table', { name: 'Flavors of the project' });
    await expect.poll(() => flavorTable.locator('tbody tr').count(), POLL).toBe(apiFlavors.length);
    expect(await flavorTable.locator('thead th').allTextContents()).toEqual(['Flavor', 'vCPUs', 'RAM', 'Disk']);
    for (const f of apiFlavors) {
      const cells = await flavorTable.locator(`tr[data-flavor="${f.name}"]`).locator('th, td').allTextContents();
      expect(cells).toEqual([f.name, String(f.vcpus), `${f.ram_gb} GB`, `${f.disk_gb} GB`]);
    }

    const imageTable = images.getByRole('table', { name: 'Images of the project' });
    await expect.poll(() => imageTable.locator('tbody tr').count(), POLL).toBe(apiImages.length);
    for (const i of apiImages) {
      const row = imageTable.locator(`tr[data-image="${i.name}"]`);
      expect(await row.locator('th').textContent()).toBe(i.name);
      expect(await row.locator('td li').allTextContents()).toEqual(i.tags);
    }
    expect(apiImages.map((i) => i.name)).toEqual(expect.arrayContaining(['Ubuntu-22.04', 'Ubuntu-24.04', 'Debian-12']));
  });

  it('lists the members and their roles', async () => {
    await expect.poll(() => shownMembers(adaPage), POLL).toEqual([[ada.username, 'Admin'], [max.username, 'Member']]);
    expect((await apiMembers()).map((m) => [m.username, m.role])).toEqual([[ada.username, 'admin'], [max.username, 'member']]);
  });

  it('refuses an unknown username, saying so by the field', async () => {
    await add(adaPage, 'nobody-of-this-name', 'Member');
    const username = addForm(adaPage).getByLabel('Username', { exact: true });
    await expect.poll(() => username.getAttribute('aria-invalid'), POLL).toBe('true');
    expect(await describedBy(username)).toEqual(['There is no user "nobody-of-this-name".']);
    expect(await apiMembers()).toHaveLength(2);
  });

  it('adds a member, sets their role, and removes them after a confirmation', async () => {
    await add(adaPage, olga.username, 'Member');
    await expect.poll(() => notice(adaPage).textContent(), POLL).toBe(`${olga.username} was added as member.`);
    await expect.poll(() => shownMembers(adaPage), POLL).toContainEqual([olga.username, 'Member']);
    expect(await roleOf(olga.username)).toBe('member');
    // The form is empty again, and no error is left.
    expect(await addForm(adaPage).getByLabel('Username', { exact: true }).inputValue()).toBe('');
    expect(await addForm(adaPage).getByRole('alert').count()).toBe(0);
    // Olga now reaches the project.
    expect((await t.http.get(`/api/projects/${project.id}/`, { as: olga.session })).statusCode).toBe(200);

    await members(adaPage).getByRole('button', { name: `Make admin (${olga.username})` }).click();
    await expect.poll(() => notice(adaPage).textContent(), POLL).toBe(`${olga.username} is now admin.`);
    await expect.poll(() => shownMembers(adaPage), POLL).toContainEqual([olga.username, 'Admin']);
    expect(await roleOf(olga.username)).toBe('admin');

    await members(adaPage).getByRole('button', { name: `Make member (${olga.username})` }).click();
    await expect.poll(() => roleOf(olga.username), POLL).toBe('member');
    await expect.poll(() => shownMembers(adaPage), POLL).toContainEqual([olga.username, 'Member']);

    // Cancel keeps her.
    await members(adaPage).getByRole('button', { name: `Remove ${olga.username}` }).click();
    const dialog = adaPage.getByRole('dialog', { name: `Remove ${olga.username} from ${project.name}?` });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await roleOf(olga.username)).toBe('member');

    await members(adaPage).getByRole('button', { name: `Remove ${olga.username}` }).click();
    await dialog.getByRole('button', { name: 'Remove member' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => notice(adaPage).textContent(), POLL).toBe(`${olga.username} is no longer a member.`);
    await expect.poll(() => shownMembers(adaPage), POLL).toEqual([[ada.username, 'Admin'], [max.username, 'Member']]);
    expect(await roleOf(olga.username)).toBeNull();
    expect((await t.http.get(`/api/projects/${project.id}/`, { as: olga.session })).statusCode).toBe(404);
  });

  it("sets an existing member's role through the form too", async () => {
    await add(adaPage, max.username, 'Admin');
    await expect.poll(() => notice(adaPage).textContent(), POLL).toBe(`${max.username} is now admin.`);
    expect(await roleOf(max.username)).toBe('admin');
    await add(adaPage, max.username, 'Member');
    await expect.poll(() => roleOf(max.username), POLL).toBe('member');
    await expect.poll(() => shownMembers(adaPage), POLL).toEqual([[ada.username, 'Admin'], [max.username, 'Member']]);
  });

  it("keeps the last admin: demoting or removing them shows the API's refusal", async () => {
    await members(adaPage).getByRole('button', { name: `Make member (${ada.username})` }).click();
    const row = members(adaPage).locator(`tr[data-member="${ada.username}"]`);
    await row.getByRole('alert').filter({ hasText: "is the project's last admin" }).waitFor();
    expect(await roleOf(ada.username)).toBe('admin');

    await members(adaPage).getByRole('button', { name: `Remove ${ada.username}` }).click();
    const dialog = adaPage.getByRole('dialog', { name: `Remove ${ada.username} from ${project.name}?` });
    await dialog.getByRole('button', { name: 'Remove member' }).click();
    await dialog.getByRole('alert').filter({ hasText: "is the project's last admin: make another member admin first." }).waitFor();
    expect(await roleOf(ada.username)).toBe('admin');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await shownMembers(adaPage)).toEqual([[ada.username, 'Admin'], [max.username, 'Member']]);
  });

  it('shows a member who is not an admin the list without controls', async () => {
    const p = await projectPageAs(max);
    await expect.poll(() => shownMembers(p), POLL).toEqual([[ada.username, 'Admin'], [max.username, 'Member']]);
    expect(await members(p).getByRole('button').count()).toBe(0);
    expect(await members(p).getByRole('form').count()).toBe(0);
    expect(await members(p).locator('thead th').allTextContents()).toEqual(['User', 'Role']);
    // Flavors and images are theirs to see too.
    await p.getByRole('region', { name: 'Flavors' }).locator('tr[data-flavor="de.NBI tiny"]').waitFor();
    await p.getByRole('region', { name: 'Images' }).locator('tr[data-image="Ubuntu-22.04"]').waitFor();
  });

  it("lets a superuser who is not a member manage the members", async () => {
    const p = await projectPageAs(root);
    await p.getByText('Your role: Not a member (superuser)').waitFor();
    await add(p, olga.username, 'Admin');
    await expect.poll(() => notice(p).textContent(), POLL).toBe(`${olga.username} was added as admin.`);
    expect(await roleOf(olga.username)).toBe('admin');
    // With a second admin, Ada may step down.
    await members(p).getByRole('button', { name: `Make member (${ada.username})` }).click();
    await expect.poll(() => roleOf(ada.username), POLL).toBe('member');
    await expect.poll(() => shownMembers(p), POLL).toEqual([[ada.username, 'Member'], [max.username, 'Member'], [olga.username, 'Admin']]);

    // Ada, now a member, loses her controls once her page reads the project again.
    await adaPage.reload();
    await expect.poll(() => shownMembers(adaPage), POLL).toEqual([[ada.username, 'Member'], [max.username, 'Member'], [olga.username, 'Admin']]);
    expect(await members(adaPage).getByRole('button').count()).toBe(0);
  });

  it('logged no script errors or Content-Security-Policy violations', () => {
    expect(consoleProblems).toEqual([]);
  });
});
