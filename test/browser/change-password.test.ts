// The profile's Change password form (spec §6), in Debian's Chromium against a real listening
// portal: the form checks the new password before sending it (at least 12 characters, typed twice
// alike), shows the portal's refusal of a wrong current password by its field, and once the
// password is changed the user stays logged in here, their other sessions have ended, and the new
// password (not the old one) logs in.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, listen, logIn, newPage, openApp } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };
const NEW_PASSWORD = 'a brand new passphrase';

let t: TestPortal;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let user: TestUser;
/** The password changes the page asked for. */
const sent: string[] = [];
const consoleProblems: string[] = [];

const form = () => page.getByRole('form', { name: 'Change password' });
const current = () => form().getByLabel('Current password', { exact: true });
const next = () => form().getByLabel('New password', { exact: true });
const repeat = () => form().getByLabel('Repeat the new password', { exact: true });
/** The texts of the elements that describe a field (its hint and its error). */
const describedBy = (field: ReturnType<typeof current>) =>
  field.evaluate((el) => (el.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean).map((id) => document.getElementById(id)?.textContent ?? ''));

async function fillIn(values: { current: string; next: string; repeat: string }): Promise<void> {
  await current().fill(values.current);
  await next().fill(values.next);
  await repeat().fill(values.repeat);
  await form().getByRole('button', { name: 'Change password' }).click();
}

/** GET /api/auth/me's status with a session cookie (and its CSRF token, unused by a GET). */
const meStatus = async (session: { cookie: string; csrf: string }) => (await t.http.get('/api/auth/me', { as: session })).statusCode;

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  user = await t.factory.user();
  ({ browser, context, page } = await openApp(base, consoleProblems));
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/auth/password')) sent.push(r.method());
  });
  await page.goto('/profile');
  await logIn(page, user.username);
  await page.waitForURL((u) => u.pathname === '/profile');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('changing the password on the profile', () => {
  it('checks the new password before sending it: at least 12 characters, and typed twice alike', async () => {
    await page.getByRole('region', { name: 'Change password' }).waitFor();
    expect(await describedBy(next())).toEqual(['At least 12 characters.']);

    await fillIn({ current: PASSWORD, next: 'too short', repeat: 'too short' });
    await form().getByRole('alert').filter({ hasText: 'The new password needs at least 12 characters.' }).waitFor();
    expect(await next().getAttribute('aria-invalid')).toBe('true');
    expect(await describedBy(next())).toEqual(['At least 12 characters.', 'The new password needs at least 12 characters.']);
    // Focus goes to the field to correct.
    expect(await next().evaluate((el) => el === document.activeElement)).toBe(true);

    await fillIn({ current: PASSWORD, next: NEW_PASSWORD, repeat: `${NEW_PASSWORD}!` });
    await form().getByRole('alert').filter({ hasText: 'The two new passwords are not the same.' }).waitFor();
    expect(await repeat().getAttribute('aria-invalid')).toBe('true');
    expect(await next().getAttribute('aria-invalid')).toBeNull();

    await fillIn({ current: '', next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    await form().getByRole('alert').filter({ hasText: 'Enter your current password.' }).waitFor();

    // None of these reached the portal.
    expect(sent).toEqual([]);
  });

  it("shows the portal's refusal of a wrong current password by its field, and changes nothing", async () => {
    await fillIn({ current: 'not my password at all', next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    await expect.poll(() => current().getAttribute('aria-invalid'), POLL).toBe('true');
    expect(await describedBy(current())).toEqual(['This is not your current password.']);
    expect(sent).toEqual(['POST']);
    expect((await t.http.post('/api/auth/login', { body: { username: user.username, password: PASSWORD } })).statusCode).toBe(200);
    expect((await t.http.post('/api/auth/login', { body: { username: user.username, password: NEW_PASSWORD } })).statusCode).toBe(401);
  });

  it('changes it: the user stays logged in here, their other session ends, and only the new password logs in', async () => {
    // Another session of the user, made beforehand (another browser, a script).
    const other = await t.factory.login(user.username);
    expect(await meStatus(other)).toBe(200);

    await fillIn({ current: PASSWORD, next: NEW_PASSWORD, repeat: NEW_PASSWORD });
    await form().getByRole('status').filter({ hasText: 'Your password has been changed.' }).waitFor();
    for (const field of [current(), next(), repeat()]) {
      expect(await field.inputValue()).toBe('');
      expect(await field.getAttribute('aria-invalid')).toBeNull();
    }
    expect(sent).toEqual(['POST', 'POST']);

    // The other session has ended; this one goes on, also after a reload.
    expect(await meStatus(other)).toBe(401);
    const cookie = (await context.cookies()).find((c) => c.name === 'simplevm_session');
    expect(await meStatus({ cookie: `simplevm_session=${cookie?.value}`, csrf: '' })).toBe(200);
    // The change is in the user's log, and the log's refresh needs the session too.
    const audit = page.getByRole('region', { name: 'Your audit log' });
    await expect.poll(() => audit.locator('tbody tr').first().getAttribute('data-action'), POLL).toBe('password.change');
    await page.reload();
    await page.getByRole('heading', { name: 'Profile', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/profile');

    // A fresh browser: the old password is refused, the new one logs in.
    const fresh = await browser.newContext({ baseURL: base });
    const p = await newPage(fresh, consoleProblems);
    await p.goto('/login');
    await logIn(p, user.username, PASSWORD);
    await expect.poll(() => p.getByRole('alert').textContent(), POLL).toBe('The username or password is wrong.');
    await logIn(p, user.username, NEW_PASSWORD);
    await p.waitForURL((u) => u.pathname === '/vms');
    await fresh.close();
  });

  it('logged no script errors or Content-Security-Policy violations', () => {
    expect(consoleProblems).toEqual([]);
  });
});
