// Single sign-on in Debian's Chromium against a real OpenID provider (oidc-provider) on 127.0.0.1:
// the portal provisions users from the provider's claims, finds them again by `sub`, grants and
// takes away superuser (and with it API keys under the beta gate) from a claim, ends the provider's
// session at logout, and refuses a cancelled login, a tampered state or nonce, and an unreachable
// provider with a message on its login page.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUser } from '../../src/server/modules/users/users.repository.js';
import { type TestPortal, buildTestApp } from '../helpers.js';
import { CLIENT_ID, CLIENT_SECRET, type TestProvider, startProvider } from '../oidc-provider.js';
import { ensureWebBuilt, launchChromium } from './browser.js';

const POLL = { timeout: 15_000, interval: 100 };
const IDP = 'Test IdP';

/** The claims the provider reports per account id (= `sub`); tests change them between logins. */
const accounts = new Map<string, Record<string, unknown>>();

let portal: TestPortal;
let base: string;
let idp: TestProvider;
let browser: Browser;
const contexts: BrowserContext[] = [];
const consoleProblems: string[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: base });
  contexts.push(context);
  // Only this machine: the provider's built-in pages import a web font, which is not fetched.
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => consoleProblems.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource') && new URL(page.url()).origin === base) consoleProblems.push(msg.text());
  });
  return { context, page };
}

const onPortal = (u: URL) => u.origin === base;
const onProvider = (u: URL) => u.origin === idp.issuer;
const isCallback = (u: URL) => onPortal(u) && u.pathname === '/api/auth/oidc/callback';
const isLoginStart = (u: URL) => onPortal(u) && u.pathname === '/api/auth/oidc/login';

/** Lets the portal answer the login start, then changes one parameter of its redirect to the provider. */
async function redirectChanged(route: Route, name: string, value: string): Promise<void> {
  const response = await route.fetch({ maxRedirects: 0 });
  const location = new URL(response.headers().location);
  location.searchParams.set(name, value);
  await route.fulfill({ response, headers: { ...response.headers(), location: location.href } });
}

/** Clicks "Log in with …" and signs in at the provider as `account` (its form, then its consent). */
async function logInAtProvider(page: Page, account: string): Promise<void> {
  await page.getByRole('link', { name: `Log in with ${IDP}` }).click();
  await page.waitForURL(onProvider);
  await page.getByPlaceholder('Enter any login').fill(account);
  await page.getByPlaceholder('and password').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(onPortal);
}

/** The portal session a browser holds, as `as` for the test client (cookie + CSRF token). */
async function sessionOf(context: BrowserContext): Promise<{ cookie: string; csrf: string }> {
  const cookie = (await context.cookies(base)).find((c) => c.name === 'simplevm_session');
  expect(cookie, 'session cookie').toBeDefined();
  expect(cookie!.httpOnly).toBe(true);
  expect(cookie!.sameSite).toBe('Lax');
  const me = await portal.http.get('/api/auth/me', { headers: { cookie: `simplevm_session=${cookie!.value}` } });
  expect(me.statusCode).toBe(200);
  return { cookie: `simplevm_session=${cookie!.value}`, csrf: me.data.csrf_token };
}

const userRow = (id: number) =>
  portal.ctx.db.kysely.selectFrom('users').select(['id', 'username', 'email', 'is_superuser']).where('id', '=', id).executeTakeFirstOrThrow();
const identityOf = (sub: string) =>
  portal.ctx.db.kysely.selectFrom('oidc_identities').select(['user_id', 'issuer']).where('subject', '=', sub).executeTakeFirst();
const countUsers = async () => Number((await portal.ctx.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const alert = (page: Page) => page.getByRole('alert');

beforeAll(async () => {
  ensureWebBuilt();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  idp = await startProvider(base, accounts, IDP);
  portal = await buildTestApp({
    SIMPLEVM_OIDC_ISSUER: idp.issuer,
    SIMPLEVM_OIDC_CLIENT_ID: CLIENT_ID,
    SIMPLEVM_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    SIMPLEVM_OIDC_REDIRECT_URL: `${base}/api/auth/oidc/callback`,
    SIMPLEVM_OIDC_NAME: IDP,
    SIMPLEVM_OIDC_SCOPES: 'openid profile email groups',
    SIMPLEVM_OIDC_SUPERUSER_CLAIM: 'groups=simplevm-admins',
    SIMPLEVM_LOCAL_LOGIN: 'false',
    SIMPLEVM_API_KEYS_FOR: 'superusers',
  });
  await portal.app.listen({ host: '127.0.0.1', port });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await portal?.close();
  await idp?.close();
});

describe('single sign-on with OpenID Connect', () => {
  let alice: { context: BrowserContext; page: Page };
  let aliceId: number;
  let superKey: string;

  it('offers only "Log in with …" when passwords are off, and refuses a password login', async () => {
    const info = await fetch(`${base}/api/auth/oidc`);
    expect(await info.json()).toEqual({ enabled: true, name: IDP, login_url: '/api/auth/oidc/login', local_login: false });
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'x' }) });
    expect(login.status).toBe(403);
    expect(await login.json()).toMatchObject({ code: 'permission_denied' });

    alice = await newPage();
    await alice.page.goto('/vms');
    await alice.page.waitForURL((u) => u.pathname === '/login');
    await alice.page.getByRole('link', { name: `Log in with ${IDP}` }).waitFor();
    expect(await alice.page.getByLabel('Username').count()).toBe(0);
    expect(await alice.page.getByLabel('Password').count()).toBe(0);
  });

  it('creates the user on first login, from sub, preferred_username and email', async () => {
    accounts.set('alice-sub', { preferred_username: 'alice', email: 'alice@example.org', groups: ['staff'] });
    const before = await countUsers();
    const { page, context } = alice;
    await logInAtProvider(page, 'alice-sub');
    // Back on the page the login started from, logged in.
    await page.waitForURL((u) => u.pathname === '/vms');
    await page.getByRole('heading', { name: 'VMs', level: 1 }).waitFor();
    expect(await page.locator('.who').textContent()).toContain('alice');
    expect(await page.locator('.who .tag').count()).toBe(0);

    // The authorization request carried PKCE (S256), a state and a nonce.
    const auth = idp.authRequests.at(-1)!;
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.searchParams.get('state')?.length).toBeGreaterThanOrEqual(20);
    expect(auth.searchParams.get('nonce')?.length).toBeGreaterThanOrEqual(20);
    expect(auth.searchParams.get('scope')).toBe('openid profile email groups');

    expect(await countUsers()).toBe(before + 1);
    const identity = await identityOf('alice-sub');
    expect(identity?.issuer).toBe(idp.issuer);
    aliceId = identity!.user_id;
    expect(await userRow(aliceId)).toMatchObject({ username: 'alice', email: 'alice@example.org', is_superuser: 0 });
    // The pending-login cookie is spent.
    expect((await context.cookies(base)).map((c) => c.name)).not.toContain('simplevm_oidc');

    // Not a superuser: under the beta gate, no API keys.
    const session = await sessionOf(context);
    const created = await portal.http.post('/api/keys/', { as: session, body: { name: 'k', scopes: ['vm:read'] } });
    expect(created.statusCode).toBe(403);
    expect(created.data.code).toBe('api_keys_not_enabled');
    await page.getByRole('link', { name: 'Profile', exact: true }).click();
    await page.getByRole('heading', { name: 'Profile', level: 1 }).waitFor();
    await page.getByText('alice', { exact: true }).first().waitFor();
    // The section says keys are not available yet, with nothing to make one (spec §6).
    await page.getByRole('region', { name: 'API keys BETA' }).getByText('API keys are not available to you yet.').waitFor();
    expect(await page.getByRole('button', { name: 'Generate new API key' }).count()).toBe(0);

    const audit = await portal.http.get('/api/audit/?action=login', { as: session });
    expect(audit.data.results[0]).toMatchObject({ actor: 'alice', action: 'login', outcome: 'success' });
  });

  it('logs out at the portal and at the provider (its end-session endpoint)', async () => {
    const { page, context } = alice;
    const session = await sessionOf(context);
    const end = await portal.http.get('/api/auth/oidc/end-session', { as: session });
    expect(end.statusCode).toBe(200);
    const endUrl = new URL(end.data.url);
    expect(endUrl.origin).toBe(idp.issuer);
    expect(endUrl.searchParams.get('post_logout_redirect_uri')).toBe(`${base}/login`);
    expect(endUrl.searchParams.get('id_token_hint')).toMatch(/^ey/);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(onProvider);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL((u) => onPortal(u) && u.pathname === '/login');
    await page.getByRole('link', { name: `Log in with ${IDP}` }).waitFor();
    expect((await portal.http.get('/api/auth/me', { as: session })).statusCode).toBe(401);
    const out = await portal.ctx.db.kysely.selectFrom('audit_events').select('actor').where('action', '=', 'logout').execute();
    expect(out.map((e) => e.actor)).toContain('alice');
  });

  it('finds the same user on the next login by sub, though preferred_username changed, and grants superuser from the claim', async () => {
    accounts.set('alice-sub', { preferred_username: 'alice.renamed', email: 'alice@new.example.org', groups: ['staff', 'simplevm-admins'] });
    const before = await countUsers();
    const { page, context } = alice;
    // The provider's session ended at logout, so it asks to sign in again.
    await logInAtProvider(page, 'alice-sub');
    await page.waitForURL((u) => u.pathname === '/vms');
    await page.locator('.who .tag').getByText('superuser').waitFor();
    expect(await page.locator('.who').textContent()).toContain('alice');

    expect(await countUsers()).toBe(before);
    expect((await identityOf('alice-sub'))?.user_id).toBe(aliceId);
    expect(await userRow(aliceId)).toMatchObject({ username: 'alice', email: 'alice@new.example.org', is_superuser: 1 });

    await page.getByRole('link', { name: 'Profile', exact: true }).click();
    const section = page.getByRole('region', { name: 'API keys BETA' });
    await section.getByRole('button', { name: 'Generate new API key' }).waitFor();
    const created = await portal.http.post('/api/keys/', { as: await sessionOf(context), body: { name: 'sso key', scopes: ['vm:read'] } });
    expect(created.statusCode).toBe(201);
    superKey = created.data.key;
    expect((await portal.http.get('/api/vms/', { as: { key: superKey } })).statusCode).toBe(200);
  });

  it('takes superuser away when the claim goes, and with it API keys', async () => {
    accounts.set('alice-sub', { preferred_username: 'alice', email: 'alice@new.example.org', groups: ['staff'] });
    const { page, context } = alice;
    // Logging in again while the provider's session lives: straight through, with the claims as they are now.
    await page.goto('/api/auth/oidc/login?next=%2Fprofile');
    await page.waitForURL((u) => onPortal(u) && u.pathname === '/profile');
    await page.getByRole('heading', { name: 'Profile', level: 1 }).waitFor();
    await page.getByText('User', { exact: true }).waitFor();
    expect(await page.locator('.who .tag').count()).toBe(0);
    // The section says keys are not available yet, with nothing to make one (spec §6).
    await page.getByRole('region', { name: 'API keys BETA' }).getByText('API keys are not available to you yet.').waitFor();
    expect(await page.getByRole('button', { name: 'Generate new API key' }).count()).toBe(0);

    expect(await userRow(aliceId)).toMatchObject({ username: 'alice', is_superuser: 0 });
    const created = await portal.http.post('/api/keys/', { as: await sessionOf(context), body: { name: 'again', scopes: ['vm:read'] } });
    expect(created.statusCode).toBe(403);
    expect(created.data.code).toBe('api_keys_not_enabled');
    // The key made as a superuser stops working too.
    const used = await portal.http.get('/api/vms/', { as: { key: superKey } });
    expect(used.statusCode).toBe(403);
    expect(used.data.code).toBe('api_keys_not_enabled');
  });

  it('gives a new identity a free username when its preferred_username is taken by a local account', async () => {
    await insertUser(portal.ctx.db.kysely, { username: 'bob', passwordHash: 'x', isSuperuser: false, createdAt: new Date().toISOString() });
    accounts.set('bob-sub', { preferred_username: 'bob', email: 'bob@example.org' });
    const { page } = await newPage();
    await page.goto('/login');
    await logInAtProvider(page, 'bob-sub');
    await page.waitForURL((u) => u.pathname === '/vms');
    expect(await page.locator('.who').textContent()).toContain('bob-2');
    const identity = await identityOf('bob-sub');
    expect(await userRow(identity!.user_id)).toMatchObject({ username: 'bob-2', email: 'bob@example.org' });
  });

  it('comes back to the login page with a message when the login is cancelled at the provider', async () => {
    const { page, context } = await newPage();
    await page.goto('/login');
    await page.getByRole('link', { name: `Log in with ${IDP}` }).click();
    await page.waitForURL(onProvider);
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL((u) => onPortal(u) && u.pathname === '/login');
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
    await expect.poll(() => alert(page).textContent(), POLL).toBe(`The login with ${IDP} was cancelled.`);
    expect((await context.cookies(base)).map((c) => c.name)).not.toContain('simplevm_session');
  });

  it('refuses a tampered state', async () => {
    accounts.set('mallory-sub', { preferred_username: 'mallory' });
    const { page, context } = await newPage();
    // The state that comes back is not the one this browser's login sent.
    await page.route(isLoginStart, (route) => redirectChanged(route, 'state', 'a-state-this-browser-never-sent'));
    await page.goto('/login');
    await logInAtProvider(page, 'mallory-sub');
    await page.waitForURL((u) => u.pathname === '/login');
    expect(new URL(page.url()).searchParams.get('error')).toBe('invalid_state');
    await expect.poll(() => alert(page).textContent(), POLL).toContain('The login could not be verified');
    expect((await context.cookies(base)).map((c) => c.name)).not.toContain('simplevm_session');
    expect(await identityOf('mallory-sub')).toBeUndefined();
    const failed = await portal.ctx.db.kysely.selectFrom('audit_events').select(['actor', 'outcome']).where('action', '=', 'login_failed').execute();
    expect(failed).toContainEqual({ actor: null, outcome: 'failure' });
  });

  it('refuses the provider\'s answer in another browser, and twice in the same one', async () => {
    accounts.set('dave-sub', { preferred_username: 'dave' });
    const victim = await newPage();
    const answers: string[] = [];
    victim.page.on('request', (r) => {
      if (isCallback(new URL(r.url()))) answers.push(r.url());
    });
    await victim.page.goto('/login');
    await logInAtProvider(victim.page, 'dave-sub');
    await victim.page.waitForURL((u) => u.pathname === '/vms');
    expect(answers).toHaveLength(1);
    // The same answer again, with this browser's cookies: the pending login was spent (and the code too).
    const again = await victim.context.request.get(answers[0], { maxRedirects: 0 });
    expect(again.status()).toBe(302);
    expect(again.headers().location).toBe('/login?error=invalid_state');

    // In a browser that did not start this login (login CSRF, or a stolen answer): refused.
    const other = await newPage();
    await other.page.goto(answers[0]);
    await other.page.waitForURL((u) => u.pathname === '/login');
    expect(new URL(other.page.url()).searchParams.get('error')).toBe('invalid_state');
    expect((await other.context.cookies(base)).map((c) => c.name)).not.toContain('simplevm_session');
  });

  it('refuses an ID token whose nonce is not the one the login sent', async () => {
    accounts.set('mallory-sub', { preferred_username: 'mallory' });
    const { page } = await newPage();
    await page.route(isLoginStart, (route) => redirectChanged(route, 'nonce', 'a-nonce-the-portal-never-sent'));
    await page.goto('/login');
    await logInAtProvider(page, 'mallory-sub');
    await page.waitForURL((u) => u.pathname === '/login');
    expect(new URL(page.url()).searchParams.get('error')).toBe('login_failed');
    await expect.poll(() => alert(page).textContent(), POLL).toBe(`The login with ${IDP} failed. Please try again.`);
    expect(await identityOf('mallory-sub')).toBeUndefined();
  });

  it('says so when the provider cannot be reached to exchange the code', async () => {
    accounts.set('carol-sub', { preferred_username: 'carol' });
    const { page } = await newPage();
    await page.goto('/login');
    idp.tokenEndpointDown = true;
    try {
      await logInAtProvider(page, 'carol-sub');
    } finally {
      idp.tokenEndpointDown = false;
    }
    await page.waitForURL((u) => u.pathname === '/login');
    expect(new URL(page.url()).searchParams.get('error')).toBe('provider_unavailable');
    await expect.poll(() => alert(page).textContent(), POLL).toBe(`${IDP} cannot be reached right now. Please try again later.`);
    expect(await identityOf('carol-sub')).toBeUndefined();
  });

  it('says so when the provider cannot be reached to start a login', async () => {
    const deadPort = await freePort();
    const port = await freePort();
    const offline = await buildTestApp({
      SIMPLEVM_OIDC_ISSUER: `http://127.0.0.1:${deadPort}`,
      SIMPLEVM_OIDC_CLIENT_ID: CLIENT_ID,
      SIMPLEVM_OIDC_REDIRECT_URL: `http://127.0.0.1:${port}/api/auth/oidc/callback`,
      SIMPLEVM_OIDC_NAME: 'Offline IdP',
    });
    try {
      await offline.app.listen({ host: '127.0.0.1', port });
      const { page } = await newPage();
      await page.goto(`http://127.0.0.1:${port}/login?next=%2Fvolumes`);
      // Passwords are on here: both ways are offered.
      await page.getByLabel('Username').waitFor();
      await page.getByRole('link', { name: 'Log in with Offline IdP' }).click();
      await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.has('error'));
      expect(new URL(page.url()).searchParams.get('error')).toBe('provider_unavailable');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/volumes');
      await expect.poll(() => alert(page).textContent(), POLL).toBe('Offline IdP cannot be reached right now. Please try again later.');
    } finally {
      await offline.close();
    }
  });

  it('logged no script errors on the portal\'s pages', () => {
    expect(consoleProblems).toEqual([]);
  });
});
