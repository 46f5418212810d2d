// The key form's expiry (spec §6): 30, 60 and 90 days, or a date, never beyond the portal's longest
// lifetime (SIMPLEVM_API_KEY_MAX_DAYS, which /api/auth/me tells the page as api_key_max_days), on
// portals with the default (365 days) and shorter lifetimes; and after a key is made, a curl line
// for GET /api/auth/me with it, and its Copy button.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, launchChromium, listen, logIn, newPage } from './browser.js';

const DAY_MS = 86_400_000;
const POLL = { timeout: 20_000, interval: 100 };
/** The longest lifetime of the main portal under test. */
const MAX_DAYS = 45;

interface LoggedIn {
  portal: TestPortal;
  base: string;
  context: BrowserContext;
  user: TestUser;
}

let browser: Browser;
/** Every portal the tests start, closed at the end. */
const portals: TestPortal[] = [];
/** The portal with SIMPLEVM_API_KEY_MAX_DAYS=45. */
let main: LoggedIn;
const consoleProblems: string[] = [];

/** A portal with `env`, and a browser (own cookies, clipboard) logged in there as a new user. */
async function loggedIn(env: Record<string, string>): Promise<LoggedIn> {
  const portal = await buildTestApp(env);
  portals.push(portal);
  const base = await listen(portal);
  const user = await portal.factory.user();
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await newPage(context, consoleProblems);
  await page.goto('/login');
  await logIn(page, user.username);
  await page.waitForURL((u) => u.pathname === '/vms');
  await page.close();
  return { portal, base, context, user };
}

beforeAll(async () => {
  ensureWebBuilt();
  browser = await launchChromium();
  main = await loggedIn({ SIMPLEVM_API_KEY_MAX_DAYS: String(MAX_DAYS) });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const portal of portals) await portal.close();
});

/** The profile, as the portal's own /api/auth/me describes it, with the API keys section's Generate form open. */
async function keyForm(on: LoggedIn) {
  const page = await newPage(on.context, consoleProblems);
  await page.goto('/profile');
  const section = page.getByRole('region', { name: 'API keys BETA' });
  await section.getByRole('button', { name: 'Generate new API key' }).click();
  const form = page.getByRole('form', { name: 'New API key' });
  await form.getByLabel('Name', { exact: true }).waitFor();
  const choices = () => form.getByRole('radio').evaluateAll((radios) => radios.map((r) => (r.parentElement?.textContent ?? '').trim()));
  return { page, section, form, choices };
}

/** The local date `days` from today, as the browser's date input writes it. */
const dayIn = (page: Page, days: number) =>
  page.evaluate((d) => {
    const now = new Date();
    const at = new Date(now.getFullYear(), now.getMonth(), now.getDate() + d);
    return `${at.getFullYear()}-${String(at.getMonth() + 1).padStart(2, '0')}-${String(at.getDate()).padStart(2, '0')}`;
  }, days);

async function keyNamed(name: string): Promise<{ expires_at: string }> {
  const keys = (await main.portal.http.get('/api/keys/', { as: main.user.session })).data as { name: string; expires_at: string }[];
  const key = keys.find((k) => k.name === name);
  if (!key) throw new Error(`no key ${name}`);
  return key;
}

describe('the expiry', () => {
  it('offers 30, 60 and 90 days and a date up to the default longest lifetime, 365 days', async () => {
    const byDefault = await loggedIn({});
    expect((await byDefault.portal.http.get('/api/auth/me', { as: byDefault.user.session })).data.api_key_max_days).toBe(365);
    const { page, form, choices } = await keyForm(byDefault);
    expect(await choices()).toEqual(['30 days', '60 days', '90 days', 'On a date']);
    expect(await form.getByLabel('90 days').isChecked()).toBe(true);
    await form.getByText('A key lives at most 365 days.').waitFor();
    await form.getByLabel('On a date').check();
    const date = form.getByLabel('Expiry date');
    expect(await date.getAttribute('min')).toBe(await dayIn(page, 0));
    expect(await date.getAttribute('max')).toBe(await dayIn(page, 364));
    await page.close();
  });

  it("offers only what the portal's longest lifetime allows, and a date up to it, which the portal accepts", async () => {
    const { page, form, choices } = await keyForm(main);
    expect(await choices()).toEqual(['30 days', 'On a date']);
    expect(await form.getByLabel('30 days').isChecked()).toBe(true);
    await form.getByText(`A key lives at most ${MAX_DAYS} days.`).waitFor();

    await form.getByLabel('On a date').check();
    const date = form.getByLabel('Expiry date');
    const last = await dayIn(page, MAX_DAYS - 1);
    expect(await date.getAttribute('max')).toBe(last);
    const generate = form.getByRole('button', { name: 'Generate', exact: true });
    await form.getByLabel('Name', { exact: true }).fill('until a date');
    await form.getByLabel('vm:read', { exact: true }).check();

    // A day past the longest lifetime is refused before anything is sent.
    await date.fill(await dayIn(page, MAX_DAYS + 5));
    await form.getByRole('alert').filter({ hasText: `Choose a day from` }).waitFor();
    expect(await date.getAttribute('aria-invalid')).toBe('true');
    expect(await generate.isDisabled()).toBe(true);

    // The last day allowed: the key works until that day ends, and the portal takes it.
    await date.fill(last);
    expect(await generate.isEnabled()).toBe(true);
    await generate.click();
    await page.getByRole('textbox', { name: 'New API key', exact: true }).waitFor();
    const expires = Date.parse((await keyNamed('until a date')).expires_at);
    const endOfLast = await page.evaluate((day) => new Date(`${day}T23:59:59`).getTime(), last);
    expect(expires).toBeLessThanOrEqual(endOfLast);
    expect(expires).toBeGreaterThan(endOfLast - 2 * 3_600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + MAX_DAYS * DAY_MS);
    await page.close();
  });

  it('offers only a date where the longest lifetime is under 30 days', async () => {
    const { page, form, choices } = await keyForm(await loggedIn({ SIMPLEVM_API_KEY_MAX_DAYS: '20' }));
    expect(await choices()).toEqual(['On a date']);
    expect(await form.getByLabel('On a date').isChecked()).toBe(true);
    expect(await form.getByLabel('Expiry date').inputValue()).toBe(await dayIn(page, 19));
    await page.close();
  });
});

describe('after a key is made', () => {
  it('shows a curl line for GET /api/auth/me with the key, which works, and copies it', async () => {
    const { page, section, form } = await keyForm(main);
    await form.getByLabel('Name', { exact: true }).fill('tried with curl');
    await form.getByLabel('project:read', { exact: true }).check();
    await form.getByRole('button', { name: 'Generate', exact: true }).click();
    const key = await section.getByRole('textbox', { name: 'New API key', exact: true }).inputValue();

    const line = await section.getByTestId('new-key-curl').textContent();
    expect(line).toBe(`curl -H "X-API-KEY: ${key}" ${main.base}/api/auth/me`);
    // What curl would send: the header and the address, as the line has them.
    const [, header, url] = line!.match(/^curl -H "([^"]+)" (\S+)$/)!;
    const [name, value] = header.split(': ');
    const me = await fetch(url, { headers: { [name]: value } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ username: main.user.username, api_key: { prefix: key.slice(4, 12), scopes: ['project:read'] } });

    await section.getByRole('button', { name: 'Copy curl command' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), POLL).toBe(line);
    await section.getByRole('button', { name: 'Copy API key' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), POLL).toBe(key);
    await page.close();
  });
});

it('logged no script errors or Content-Security-Policy violations', () => {
  expect(consoleProblems).toEqual([]);
});
