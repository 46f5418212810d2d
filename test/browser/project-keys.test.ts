// A project's API Keys tab in Debian's Chromium against a real listening portal (issue 15: keys per
// project, as SimpleVM shows them): the tab lists only the user's keys bound to that project, makes
// a key bound to it and shows it once, and the key reaches that project alone. With
// SIMPLEVM_API_KEY_PROJECT=required the profile's form will not make a key without a project, and
// with SIMPLEVM_API_KEY_EXPIRY=required every key it makes has an expiry.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, listen, logIn, newPage, openApp } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };
const KEY_PATTERN = /^svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{38}$/;

let t: TestPortal;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let user: TestUser;
let project: { id: number; name: string };
let elsewhere: { id: number; name: string };
/** Made through the API before the page is opened: one bound to the project, one to another project, one to none. */
let made: Record<'here' | 'elsewhere' | 'unbound', { key: string; prefix: string }>;
/** Console messages that are not a failed fetch the app handles (script errors, CSP violations). */
const consoleProblems: string[] = [];

const rowPrefixes = (p: Page) => p.locator('tr[data-key-prefix]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key-prefix')));

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  user = await t.factory.user();
  project = await t.factory.project({ members: [user] });
  elsewhere = await t.factory.project({ members: [user] });
  made = {
    here: await t.factory.key(user, { name: 'bound here', scopes: ['vm:read'], project_id: project.id }),
    elsewhere: await t.factory.key(user, { name: 'bound elsewhere', scopes: ['vm:read'], project_id: elsewhere.id }),
    unbound: await t.factory.key(user, { name: 'unbound', scopes: ['vm:read'] }),
  };
  // The Copy button writes to the clipboard; the test reads it back.
  ({ browser, context, page } = await openApp(base, consoleProblems, { clipboard: true }));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('a project\'s API Keys tab', () => {
  it('is a tab of the project\'s page, reached from the projects list, and kept in the address', async () => {
    await page.goto('/projects');
    await logIn(page, user.username);
    await page.waitForURL((u) => u.pathname === '/projects');
    await page.getByRole('link', { name: project.name }).click();
    await page.waitForURL((u) => u.pathname === `/projects/${project.id}`);
    await page.getByRole('heading', { name: project.name, level: 1 }).waitFor();

    const tabs = page.getByRole('tablist', { name: `Project ${project.name}` });
    expect(await tabs.getByRole('tab').allTextContents()).toEqual(['Overview', 'API Keys']);
    const overview = tabs.getByRole('tab', { name: 'Overview' });
    const keysTab = tabs.getByRole('tab', { name: 'API Keys' });
    expect(await overview.getAttribute('aria-selected')).toBe('true');
    await page.getByRole('tabpanel', { name: 'Overview' }).getByRole('heading', { name: 'Members' }).waitFor();

    // The arrow keys move between the tabs, as in any tab strip.
    await overview.focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => keysTab.getAttribute('aria-selected'), POLL).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('API Keys');
    expect(new URL(page.url()).search).toBe('?tab=keys');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => overview.getAttribute('aria-selected'), POLL).toBe('true');
    expect(new URL(page.url()).search).toBe('');

    await keysTab.click();
    await page.getByRole('tabpanel', { name: 'API Keys' }).getByRole('heading', { name: 'API keys BETA' }).waitFor();
    // A reload opens the same tab.
    await page.reload();
    await page.getByRole('tabpanel', { name: 'API Keys' }).waitFor();
    expect(await page.getByRole('tab', { name: 'API Keys' }).getAttribute('aria-selected')).toBe('true');
  });

  it('lists only the user\'s keys bound to this project', async () => {
    const panel = page.getByRole('tabpanel', { name: 'API Keys' });
    await expect.poll(() => rowPrefixes(page), POLL).toEqual([made.here.prefix]);
    expect(await panel.locator(`tr[data-key-prefix="${made.here.prefix}"]`).textContent()).toContain('bound here');
    expect(await panel.textContent()).not.toContain('bound elsewhere');
    expect(await panel.textContent()).not.toContain('unbound');
  });

  it('makes a key bound to the project and shows it once, with a Copy button; then lists it', async () => {
    const panel = page.getByRole('tabpanel', { name: 'API Keys' });
    await panel.getByRole('button', { name: 'Generate new API key' }).click();
    const form = panel.getByRole('form', { name: 'New API key' });
    // Nothing to choose: the key is bound to this project.
    await form.getByText(`Limited to the project ${project.name}.`).waitFor();
    expect(await form.getByRole('combobox').count()).toBe(0);
    await form.getByLabel('Name', { exact: true }).fill('tab key');
    await form.getByLabel('project:read', { exact: true }).check();
    await form.getByLabel('vm:read', { exact: true }).check();
    await form.getByRole('button', { name: 'Generate', exact: true }).click();

    const shown = panel.getByRole('textbox', { name: 'New API key', exact: true });
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(KEY_PATTERN);
    await panel.getByText('it will not be shown again').waitFor();
    await panel.getByRole('button', { name: 'Copy API key' }).click();
    await panel.getByText('Copied', { exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);

    const prefix = key.slice(4, 12);
    await expect.poll(() => rowPrefixes(page), POLL).toEqual([prefix, made.here.prefix]);
    const row = panel.locator(`tr[data-key-prefix="${prefix}"]`);
    expect(await row.locator('ul.scopes li').allTextContents()).toEqual(['vm:read', 'project:read']);

    // Shown once: after Done it is gone from the page, and a reload does not bring it back.
    await panel.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(key);
    await page.reload();
    await expect.poll(() => rowPrefixes(page), POLL).toEqual([prefix, made.here.prefix]);
    expect(await page.content()).not.toContain(key);

    // The API has it bound to the project, and the key reaches that project only.
    const listed = (await t.http.get(`/api/projects/${project.id}/keys/`, { as: user.session })).data as { prefix: string; project_id: number }[];
    expect(listed.map((k) => [k.prefix, k.project_id])).toEqual([[prefix, project.id], [made.here.prefix, project.id]]);
    const reached = await fetch(`${base}/api/projects/by-api-key/`, { headers: { 'X-API-KEY': key } });
    expect(reached.status).toBe(200);
    expect(((await reached.json()) as { id: number }[]).map((p) => p.id)).toEqual([project.id]);
    expect((await fetch(`${base}/api/projects/${elsewhere.id}/`, { headers: { 'X-API-KEY': key } })).status).toBe(404);
  });

  it('leaves the profile\'s API keys section listing every key', async () => {
    await page.getByRole('link', { name: 'Profile', exact: true }).click();
    const section = page.getByRole('region', { name: 'API keys BETA' });
    await section.getByRole('table').waitFor();
    // The list the tab showed may be on screen until the profile's own read arrives.
    await expect.poll(async () => (await rowPrefixes(page)).length, { timeout: 15_000 }).toBe(4);
    const prefixes = await rowPrefixes(page);
    expect(prefixes).toEqual(expect.arrayContaining([made.here.prefix, made.elsewhere.prefix, made.unbound.prefix]));
    expect(await section.locator(`tr[data-key-prefix="${made.elsewhere.prefix}"]`).textContent()).toContain(`(project ${elsewhere.name} only)`);
  });

  it('says API keys are not available to a user the beta gate excludes', async () => {
    const gated = await buildTestApp({ SIMPLEVM_API_KEYS_FOR: 'superusers' });
    try {
      const gatedBase = await listen(gated);
      const plain = await gated.factory.user();
      const theirs = await gated.factory.project({ members: [plain] });
      const ctx = await browser.newContext({ baseURL: gatedBase });
      const p = await newPage(ctx, consoleProblems);
      await p.goto(`/projects/${theirs.id}?tab=keys`);
      await logIn(p, plain.username);
      const panel = p.getByRole('tabpanel', { name: 'API Keys' });
      await panel.getByText('API keys are not available to you yet.').waitFor();
      expect(await panel.getByRole('button', { name: 'Generate new API key' }).count()).toBe(0);
      await ctx.close();
    } finally {
      await gated.close();
    }
  });
});

describe('SIMPLEVM_API_KEY_PROJECT=required and SIMPLEVM_API_KEY_EXPIRY=required', () => {
  let strict: TestPortal;
  let strictBase: string;
  let alice: TestUser;
  let theirs: { id: number; name: string };
  let ctx: BrowserContext;
  let p: Page;

  beforeAll(async () => {
    strict = await buildTestApp({ SIMPLEVM_API_KEY_PROJECT: 'required', SIMPLEVM_API_KEY_EXPIRY: 'required' });
    strictBase = await listen(strict);
    alice = await strict.factory.user();
    theirs = await strict.factory.project({ members: [alice] });
    ctx = await browser.newContext({ baseURL: strictBase });
    p = await newPage(ctx, consoleProblems);
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    await strict?.close();
  });

  it('the profile\'s form asks for a project and will not make a key without one', async () => {
    await p.goto('/profile');
    await logIn(p, alice.username);
    await p.waitForURL((u) => u.pathname === '/profile');
    const section = p.getByRole('region', { name: 'API keys BETA' });
    await section.getByRole('button', { name: 'Generate new API key' }).click();
    const form = section.getByRole('form', { name: 'New API key' });
    const select = form.getByLabel('Project', { exact: true });
    expect(await select.getAttribute('required')).not.toBeNull();
    expect(await select.inputValue()).toBe('');
    await form.getByText('This portal binds every API key to one project.').waitFor();
    await form.getByLabel('Name', { exact: true }).fill('strict key');
    await form.getByLabel('vm:read', { exact: true }).check();

    // The browser refuses the form: nothing is sent, no key is made.
    await form.getByRole('button', { name: 'Generate', exact: true }).click();
    expect(await select.evaluate((el) => (el as HTMLSelectElement).validity.valueMissing)).toBe(true);
    expect(await section.getByRole('textbox', { name: 'New API key' }).count()).toBe(0);
    expect((await strict.http.get('/api/keys/', { as: alice.session })).data).toEqual([]);

    // Past the browser's check (as an old browser might let it through), the server's 400 shows by the field.
    await form.evaluate((el) => ((el as HTMLFormElement).noValidate = true));
    await form.getByRole('button', { name: 'Generate', exact: true }).click();
    await expect.poll(() => select.getAttribute('aria-invalid'), POLL).toBe('true');
    const described = await select.evaluate((el) =>
      (el.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? ''));
    expect(described).toContainEqual(expect.stringContaining('This portal binds every API key to a project'));
    expect((await strict.http.get('/api/keys/', { as: alice.session })).data).toEqual([]);
  });

  it('with a project chosen, makes the key bound to it, with the expiry chosen', async () => {
    const section = p.getByRole('region', { name: 'API keys BETA' });
    const form = section.getByRole('form', { name: 'New API key' });
    await form.getByLabel('Project', { exact: true }).selectOption({ label: theirs.name });
    await form.getByLabel('60 days').check();
    await form.getByRole('button', { name: 'Generate', exact: true }).click();
    const shown = section.getByRole('textbox', { name: 'New API key', exact: true });
    await shown.waitFor();
    expect(await shown.inputValue()).toMatch(KEY_PATTERN);

    const listed = (await strict.http.get('/api/keys/', { as: alice.session })).data as { name: string; project_id: number; expires_at: string }[];
    expect(listed).toMatchObject([{ name: 'strict key', project_id: theirs.id }]);
    const days = (Date.parse(listed[0].expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(59.9);
    expect(days).toBeLessThanOrEqual(60);
  });
});

describe('the browser', () => {
  it('logged no script errors or Content-Security-Policy violations', () => {
    expect(consoleProblems).toEqual([]);
  });
});
