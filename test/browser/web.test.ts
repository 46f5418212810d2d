// The web app in Debian's Chromium against a real listening portal: a user logs in, runs a VM
// through its states, attaches a volume, and makes, uses and deletes an API key.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, listen, logIn, newPage, openApp } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };

let t: TestPortal;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let user: TestUser;
let project: { id: number; name: string };
/** Console messages that are not a failed fetch the app handles (a 401 before login). */
const consoleProblems: string[] = [];

/** A failed wait, with what the page showed and what went wrong in it, for a failure seen only in CI. */
async function explained(wait: Promise<void>): Promise<void> {
  try {
    await wait;
  } catch (e) {
    const shown = await page.locator('main').innerText().catch(() => '(no main)');
    throw new Error(`${String(e)}\nThe page (${page.url()}) shows:\n${shown}\nProblems: ${consoleProblems.join('; ') || 'none'}`);
  }
}

const pathOf = (p: Page) => new URL(p.url()).pathname + new URL(p.url()).search;
const vmRow = (name: string) => page.locator(`tr[data-vm="${name}"]`);
const vmStatus = (name: string) => vmRow(name).getByTestId('vm-status').textContent();
const volumeRow = (name: string) => page.locator(`tr[data-volume="${name}"]`);
const volumeStatus = (name: string) => volumeRow(name).getByTestId('volume-status').textContent();

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  user = await t.factory.user();
  project = await t.factory.project({ members: [user], quota: { vms: 3 } });
  ({ browser, context, page } = await openApp(base, consoleProblems));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('web app', () => {
  it('is served at / with client-side routes, while unknown API paths stay JSON 404s', async () => {
    const html = await fetch(`${base}/projects/42`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await html.text();
    expect(body).toContain('<div id="root">');
    // No inline script: every <script> loads a file (Content-Security-Policy friendly).
    expect(body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const script = body.match(/<script[^>]*\ssrc="([^"]+)"/)?.[1];
    expect((await fetch(`${base}${script}`)).status).toBe(200);
    expect((await fetch(`${base}/`)).headers.get('content-type')).toMatch(/^text\/html/);

    for (const path of ['/api/nope', '/portal/api/nope/', '/api/vms/x/y/z']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ code: 'not_found' });
    }
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
  });

  it('sends a visitor to login and back to the page they asked for; an expired session does the same', async () => {
    await page.goto('/volumes?project=' + project.id);
    await page.waitForURL((u) => u.pathname === '/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe(`/volumes?project=${project.id}`);

    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), POLL).toBe('The username or password is wrong.');

    await logIn(page, user.username);
    await page.waitForURL((u) => u.pathname === '/volumes');
    expect(pathOf(page)).toBe(`/volumes?project=${project.id}`);
    await page.getByRole('heading', { name: 'Volumes', level: 1 }).waitFor();

    // The session ends (the cookie is gone); the next call answers 401 and the app asks to log in again.
    await context.clearCookies();
    await page.getByRole('link', { name: 'Projects', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/projects');
    await logIn(page, user.username);
    await page.waitForURL((u) => u.pathname === '/projects');
    await page.getByRole('link', { name: project.name }).waitFor();
  });

  it('creates a VM that becomes ACTIVE, then stops and resumes it with the buttons its state allows', async () => {
    await page.getByRole('link', { name: 'VMs', exact: true }).click();
    await page.getByText('You have no VMs yet.').waitFor();
    await page.getByRole('link', { name: 'New VM' }).click();
    await page.waitForURL((u) => u.pathname === '/vms/new');

    await page.getByLabel('Project', { exact: true }).selectOption({ label: project.name });
    // Pickers filled from the API, and the quota left before submitting.
    const imageOptions = () => page.getByLabel('Image').locator('option').allTextContents();
    await explained(expect.poll(imageOptions, POLL).toContain('Ubuntu-24.04'));
    await page.getByLabel('Image').selectOption('Ubuntu-24.04');
    await page.getByLabel('Flavor').selectOption('de.NBI small');
    const quota = page.getByRole('region', { name: `Quota left in ${project.name}` });
    await expect.poll(() => quota.textContent(), POLL).toContain('VMs3 of 3');
    expect(await quota.textContent()).toContain('This VM takes 1 VM, 2 cores and 4 GB RAM.');

    // The name is checked as the API checks it.
    await page.getByLabel('Name', { exact: true }).fill('-bad name');
    await page.getByRole('button', { name: 'Create VM' }).click();
    await page.getByText('This name is not allowed.').waitFor();
    expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(pathOf(page)).toBe('/vms/new');

    await page.getByLabel('Name', { exact: true }).fill('web-1');
    await page.getByRole('button', { name: 'Create VM' }).click();
    await page.waitForURL((u) => u.pathname === '/vms');
    await expect.poll(() => vmStatus('web-1'), POLL).toBe('ACTIVE');

    const button = (label: string) => page.getByRole('button', { name: `${label} web-1`, exact: true });
    expect(await button('Start').isDisabled()).toBe(true);
    expect(await button('Stop').isEnabled()).toBe(true);
    expect(await button('Reboot').isEnabled()).toBe(true);
    expect(await button('Delete').isEnabled()).toBe(true);

    await button('Stop').click();
    await expect.poll(() => vmStatus('web-1'), POLL).toBe('SHUTOFF');
    expect(await button('Stop').isDisabled()).toBe(true);
    expect(await button('Reboot').isDisabled()).toBe(true);
    await button('Start').click();
    await expect.poll(() => vmStatus('web-1'), POLL).toBe('ACTIVE');

    const vms = await t.http.get(`/api/vms/?project_id=${project.id}`, { as: user.session });
    expect(vms.data.results).toMatchObject([{ name: 'web-1', status: 'ACTIVE', task_state: null, image_name: 'Ubuntu-24.04', flavor_name: 'de.NBI small' }]);
  });

  it('shows an API failure as its detail next to what caused it', async () => {
    // The quota allows 3 VMs; two more fill it, and the New VM form then says so and the API refuses.
    await t.factory.vm(user, project.id);
    await t.factory.vm(user, project.id);
    await page.goto(`/vms/new?project=${project.id}`);
    const quota = page.getByRole('region', { name: `Quota left in ${project.name}` });
    await expect.poll(() => quota.textContent(), POLL).toContain('VMs0 of 3');
    await page.getByText('Not enough quota for this flavor: no VM left.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('web-4');
    await page.getByRole('button', { name: 'Create VM' }).click();
    const alert = page.locator('form').getByRole('alert');
    await expect.poll(() => alert.textContent(), POLL).toMatch(/quota/i);
    expect(pathOf(page)).toBe(`/vms/new?project=${project.id}`);
  });

  it('creates a volume, attaches it to the VM, extends and detaches it', async () => {
    await page.getByRole('link', { name: 'Volumes', exact: true }).click();
    await page.getByText('You have no volumes yet.').waitFor();
    await page.getByLabel('Project for the volume').selectOption({ label: project.name });
    await page.getByLabel('Volume name').fill('data-1');
    await page.getByLabel('Size (GB)', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Create volume' }).click();
    await expect.poll(() => volumeStatus('data-1'), POLL).toBe('available');
    expect(await page.getByRole('button', { name: 'Detach data-1' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Attach data-1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Attach data-1' });
    await dialog.getByLabel('VM').selectOption({ label: 'web-1 (ACTIVE)' });
    await dialog.getByRole('button', { name: 'Attach', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => volumeStatus('data-1'), POLL).toBe('in-use');
    await expect.poll(() => volumeRow('data-1').getByTestId('volume-attached-to').textContent(), POLL).toMatch(/^web-1/);
    const vm = (await t.http.get(`/api/vms/?project_id=${project.id}&text=web-1`, { as: user.session })).data.results[0];
    const volume = (await t.http.get(`/api/volumes/?project_id=${project.id}`, { as: user.session })).data.results[0];
    expect(volume).toMatchObject({ name: 'data-1', status: 'in-use', attached_to: vm.openstack_id, storage: 2 });
    expect(await page.getByRole('button', { name: 'Delete data-1' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Extend data-1' }).click();
    const extend = page.getByRole('dialog', { name: 'Extend data-1' });
    await extend.getByLabel('New size (GB)').fill('5');
    await extend.getByRole('button', { name: 'Extend', exact: true }).click();
    await expect.poll(() => volumeRow('data-1').locator('td[data-label="Size"]').textContent(), POLL).toBe('5 GB');
    await expect.poll(() => volumeStatus('data-1'), POLL).toBe('in-use');

    await page.getByRole('button', { name: 'Detach data-1' }).click();
    await expect.poll(() => volumeStatus('data-1'), POLL).toBe('available');
  });

  it('generates an API key with two scopes, which works until it is deleted in the page', async () => {
    await page.getByRole('link', { name: 'Profile', exact: true }).click();
    const section = page.getByRole('region', { name: 'API keys BETA' });
    await section.getByText('You have no API keys.').waitFor();
    await section.getByRole('button', { name: 'Generate new API key' }).click();

    const generate = section.getByRole('button', { name: 'Generate', exact: true });
    expect(await generate.isDisabled()).toBe(true);
    expect(await section.getByLabel('Own objects only').isChecked()).toBe(true);
    for (const choice of ['30 days', '60 days', '90 days']) await section.getByLabel(choice).waitFor();
    await section.getByLabel('Name', { exact: true }).fill('browser key');
    await section.getByLabel('vm:read', { exact: true }).check();
    expect(await generate.isEnabled()).toBe(true);
    await section.getByLabel('project:read', { exact: true }).check();
    await section.getByLabel('30 days').check();
    await section.getByLabel('Limit to project').selectOption({ label: project.name });
    await generate.click();

    const shown = section.getByRole('textbox', { name: 'New API key', exact: true });
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(/^svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{38}$/);
    await section.getByText('it will not be shown again').waitFor();
    await section.getByRole('button', { name: 'Copy API key' }).waitFor();
    const row = section.locator(`tr[data-key-prefix="${key.slice(4, 12)}"]`);
    expect(await row.textContent()).toContain('browser key');
    expect(await row.locator('ul.scopes li').allTextContents()).toEqual(['vm:read', 'project:read']);

    const listed = (await t.http.get('/api/keys/', { as: user.session })).data;
    expect(listed).toMatchObject([{ name: 'browser key', scopes: ['vm:read', 'project:read'], own_objects_only: true, project_id: project.id }]);
    const days = (Date.parse(listed[0].expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);

    // The key works against the API, with its scopes and no more.
    const vms = await fetch(`${base}/api/vms/`, { headers: { 'X-API-KEY': key } });
    expect(vms.status).toBe(200);
    expect(((await vms.json()) as { results: { name: string }[] }).results.map((v) => v.name)).toContain('web-1');
    const create = await fetch(`${base}/api/volumes/`, {
      method: 'POST',
      headers: { 'X-API-KEY': key, 'content-type': 'application/json' },
      body: JSON.stringify({ project_id: project.id, name: 'nope', storage: 1 }),
    });
    expect(create.status).toBe(403);

    // Delete asks first; cancelling keeps the key.
    await row.getByRole('button', { name: 'Delete browser key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete API key browser key?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await fetch(`${base}/api/vms/`, { headers: { 'X-API-KEY': key } })).status).toBe(200);

    await row.getByRole('button', { name: 'Delete browser key' }).click();
    await dialog.getByRole('button', { name: 'Delete key' }).click();
    await row.waitFor({ state: 'detached' });
    await section.getByText('You have no API keys.').waitFor();
    const refused = await fetch(`${base}/api/vms/`, { headers: { 'X-API-KEY': key } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'not_authenticated' });
  });

  it('shows projects with the role, members and quota usage as bars', async () => {
    await page.goto(`/projects/${project.id}`);
    await page.getByRole('heading', { name: project.name, level: 1 }).waitFor();
    await page.getByText('Your role: Member').waitFor();
    const bars = page.getByRole('group', { name: `Quota of ${project.name}` });
    expect(await bars.getByLabel('VMs').getAttribute('value')).toBe('3');
    expect(await bars.getByLabel('VMs').getAttribute('max')).toBe('3');
    expect(await bars.getByLabel('Volume storage').getAttribute('value')).toBe('5');
    const members = page.getByRole('region', { name: 'Members' }).getByRole('table', { name: `Members of ${project.name}` });
    await expect.poll(() => members.textContent(), POLL).toContain(user.username);
  });

  it('tells users the beta gate excludes that API keys are not available to them yet', async () => {
    const gated = await buildTestApp({ SIMPLEVM_API_KEYS_FOR: 'superusers' });
    try {
      const gatedBase = await listen(gated);
      const plain = await gated.factory.user();
      const ctx = await browser.newContext({ baseURL: gatedBase });
      const p = await newPage(ctx, consoleProblems);
      await p.goto('/profile');
      await logIn(p, plain.username);
      await p.waitForURL((u) => u.pathname === '/profile');
      await p.getByRole('heading', { name: 'Profile', level: 1 }).waitFor();
      await p.getByText(plain.username).first().waitFor();
      // The section stays, with a sentence instead of the table and the Generate button (spec §6).
      const section = p.getByRole('region', { name: 'API keys BETA' });
      await section.getByText('API keys are not available to you yet.').waitFor();
      expect(await section.getByRole('table').count()).toBe(0);
      expect(await p.getByRole('button', { name: 'Generate new API key' }).count()).toBe(0);
      await ctx.close();
    } finally {
      await gated.close();
    }
  });

  it('logged no script errors or Content-Security-Policy violations', () => {
    expect(consoleProblems).toEqual([]);
  });
});
