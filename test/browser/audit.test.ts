// The audit log and key rotation in the web app, in Debian's Chromium against a real listening
// portal: each user sees their own events on the profile, a superuser sees everyone's on
// /admin/audit and filters them by action, others are refused there, and Rotate replaces a key.
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS } from '../../src/shared/contract.js';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, launchChromium, listen, logIn, newPage } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };

let t: TestPortal;
let base: string;
let browser: Browser;
let alice: TestUser;
let bob: TestUser;
let root: TestUser;
let bobKey: { key: string; prefix: string };
const consoleProblems: string[] = [];
const contexts: BrowserContext[] = [];

/** A fresh browser (own cookies) logged in as `user` on `path`. */
async function pageAs(user: TestUser, path: string): Promise<Page> {
  const ctx = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 } });
  contexts.push(ctx);
  const p = await newPage(ctx, consoleProblems);
  await p.goto(path);
  await logIn(p, user.username);
  await p.waitForURL((u) => u.pathname === path);
  return p;
}

/** The actions of the audit rows shown, top to bottom. */
const actionsIn = (table: Locator) => table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
const auditRegion = (p: Page) => p.getByRole('region', { name: 'Your audit log' });
const keysRegion = (p: Page) => p.getByRole('region', { name: 'API keys BETA' });
const keyRow = (p: Page, key: string) => keysRegion(p).locator(`tr[data-key-prefix="${key.slice(4, 12)}"]`);
const statusWith = (key: string) => fetch(`${base}/api/vms/`, { headers: { 'X-API-KEY': key } }).then((r) => r.status);

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  // Each factory user logs in once through the API: one `login` event each.
  alice = await t.factory.user();
  bob = await t.factory.user();
  root = await t.factory.user({ superuser: true });
  bobKey = await t.factory.key(bob, { name: 'bob key', scopes: ['vm:read'] });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const ctx of contexts) await ctx.close();
  await browser?.close();
  await t?.close();
});

describe('audit log and key rotation in the web app', () => {
  let alicePage: Page;
  let aliceKey: string;

  it("lists a user's own events on the profile, newest first, and none of another user's", async () => {
    alicePage = await pageAs(alice, '/profile');
    const audit = auditRegion(alicePage);
    const table = audit.getByRole('table', { name: 'Your audit events' });
    // The factory's login and this browser's.
    await expect.poll(() => actionsIn(table), POLL).toEqual(['login', 'login']);

    // Making a key writes `key.create`, and the log shows it at the top without a reload.
    const keys = keysRegion(alicePage);
    await keys.getByRole('button', { name: 'Generate new API key' }).click();
    await keys.getByLabel('Name', { exact: true }).fill('audit key');
    await keys.getByLabel('vm:read', { exact: true }).check();
    await keys.getByRole('button', { name: 'Generate', exact: true }).click();
    aliceKey = await keys.getByRole('textbox', { name: 'New API key', exact: true }).inputValue();
    await expect.poll(() => actionsIn(table), POLL).toEqual(['key.create', 'login', 'login']);

    const created = table.locator('tbody tr').first();
    const cells = await created.locator('td, th').allTextContents();
    // When, action, details (the key's name), object, key prefix, IP address, outcome.
    expect(cells.slice(1)).toEqual(['key.create', '“audit key”', expect.stringMatching(/^api_key \d+$/), aliceKey.slice(4, 12), '127.0.0.1', 'success']);
    expect(Date.parse((await created.locator('time').getAttribute('datetime')) ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(await table.locator('thead th').allTextContents()).toEqual(['When', 'Action', 'Details', 'Object', 'Key prefix', 'IP address', 'Outcome']);

    // Bob's key and his events are his alone.
    expect(await audit.textContent()).not.toContain(bobKey.prefix);
    expect(await audit.textContent()).not.toContain(bob.username);
  });

  it("shows a superuser everyone's events on the audit page, filtered by action", async () => {
    // The page is the web app's (index.html), not a 404.
    const html = await fetch(`${base}/admin/audit?action=login`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);

    const p = await pageAs(root, '/vms');
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await p.waitForURL((u) => u.pathname === '/admin/audit');
    await p.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    const table = p.getByRole('table', { name: 'Audit events of all users' });
    await table.waitFor();
    const text = await table.textContent();
    for (const name of [alice.username, bob.username, root.username]) expect(text).toContain(name);
    expect(text).toContain(bobKey.prefix);
    expect(await table.locator('thead th').allTextContents()).toEqual(['When', 'Actor', 'Action', 'Details', 'Object', 'Key prefix', 'IP address', 'Outcome']);

    // The filter offers every action of the audit log (spec §7), and "All actions".
    const filter = p.getByLabel('Action', { exact: true });
    expect(await filter.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', ...AUDIT_ACTIONS]);

    await filter.selectOption('key.create');
    await p.waitForURL((u) => u.searchParams.get('action') === 'key.create');
    // Alice's key and Bob's, and nothing else.
    await expect.poll(() => actionsIn(table), POLL).toEqual(['key.create', 'key.create']);
    const shown = await table.textContent();
    for (const prefix of [aliceKey.slice(4, 12), bobKey.prefix]) expect(shown).toContain(prefix);
    expect(shown).not.toContain(root.username);

    await filter.selectOption('login');
    await expect.poll(async () => new Set(await actionsIn(table)), POLL).toEqual(new Set(['login']));
    const logins = (await t.http.get('/api/audit/?action=login', { as: root.session })).data;
    expect(await actionsIn(table)).toHaveLength(logins.results.length);
    expect(await table.textContent()).toContain(bob.username);

    // An action nobody did yet.
    await filter.selectOption('snapshot.create');
    await p.getByText('No snapshot.create events.').waitFor();
    expect(await table.count()).toBe(0);

    await filter.selectOption('');
    await p.waitForURL((u) => !u.searchParams.has('action'));
    await expect.poll(async () => new Set(await actionsIn(table)).size, POLL).toBeGreaterThan(1);
  });

  it("shows a superuser only their own events on the profile (?mine=true), while /admin/audit shows everyone's", async () => {
    const p = await pageAs(root, '/profile');
    const table = auditRegion(p).getByRole('table', { name: 'Your audit events' });
    await table.waitFor();
    // Root has only logged in (the factory's login and the browsers'): nobody else's key.create, nor their logins.
    const own = (await t.http.get('/api/audit/?mine=true', { as: root.session })).data as { count: number; results: { actor: string }[] };
    expect(own.results.every((e) => e.actor === root.username)).toBe(true);
    await expect.poll(() => actionsIn(table), POLL).toEqual(own.results.map(() => 'login'));
    const everyone = (await t.http.get('/api/audit/', { as: root.session })).data as { count: number };
    expect(everyone.count).toBeGreaterThan(own.count);
    const text = await auditRegion(p).textContent();
    expect(text).not.toContain(bobKey.prefix);
    expect(text).not.toContain(aliceKey.slice(4, 12));
    // No actor column: every event there is the viewer's own.
    expect(await table.locator('thead th').allTextContents()).not.toContain('Actor');

    await p.goto('/admin/audit');
    const all = p.getByRole('table', { name: 'Audit events of all users' });
    await expect.poll(async () => (await actionsIn(all)).length, POLL).toBe(everyone.count);
    const shown = await all.textContent();
    for (const s of [bobKey.prefix, aliceKey.slice(4, 12), alice.username, bob.username]) expect(shown).toContain(s);
  });

  it("shows each event's details: a VM action's os_action, a created VM's name, a failure's error code", async () => {
    const dora = await t.factory.user();
    const project = await t.factory.project({ members: [dora] });
    const vm = (await t.factory.vm(dora, project.id)) as { openstack_id: string; name: string };
    const action = (os_action: string) => t.http.post(`/api/vms/${vm.openstack_id}/action/`, { as: dora.session, body: { os_action } });
    expect((await action('stop')).statusCode).toBe(202);
    await t.factory.waitFor(dora, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
    // A stopped VM cannot be stopped: refused, and recorded with its error code.
    expect((await action('stop')).statusCode).toBe(409);

    const p = await pageAs(dora, '/profile');
    const table = auditRegion(p).getByRole('table', { name: 'Your audit events' });
    await expect.poll(() => actionsIn(table), POLL).toEqual(['login', 'vm.action', 'vm.action', 'vm.create', 'login']);
    const details = (row: Locator) => row.locator('td[data-label="Details"]').textContent();
    const rows = table.locator('tbody tr');
    expect(await details(rows.nth(1))).toBe('stop, error invalid_state');
    expect(await rows.nth(1).locator('.status').textContent()).toBe('failure');
    expect(await details(rows.nth(2))).toBe('stop');
    expect(await rows.nth(2).locator('.status').textContent()).toBe('success');
    expect(await details(rows.nth(3))).toBe(`“${vm.name}”`);
    expect(await details(rows.nth(0))).toBe('—');

    // The superusers' page shows the same details, and who acted.
    const r = await pageAs(root, '/admin/audit');
    await r.goto('/admin/audit?action=vm.action');
    const all = r.getByRole('table', { name: 'Audit events of all users' });
    await expect.poll(() => actionsIn(all), POLL).toEqual(['vm.action', 'vm.action']);
    const first = await all.locator('tbody tr').first().locator('td, th').allTextContents();
    // When, actor, action, details, object, key prefix, IP address, outcome.
    expect(first.slice(1)).toEqual([dora.username, 'vm.action', 'stop, error invalid_state', `vm ${vm.openstack_id}`, '—', '127.0.0.1', 'failure']);
  });

  it('shows others no audit link, and the audit page refuses them', async () => {
    const nav = alicePage.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['VMs', 'Volumes', 'Projects', 'Profile']);
    await alicePage.goto('/admin/audit');
    await alicePage.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    expect(await alicePage.getByRole('alert').textContent()).toBe('Only superusers may see the audit log of all users.');
    expect(await alicePage.getByRole('table').count()).toBe(0);
    expect(await alicePage.getByLabel('Action', { exact: true }).count()).toBe(0);
    await alicePage.getByRole('link', { name: 'profile', exact: true }).click();
    await alicePage.waitForURL((u) => u.pathname === '/profile');
  });

  it('rotates a key with no overlap: the new key is shown once, the old one is dead at once', async () => {
    const keys = keysRegion(alicePage);
    await keyRow(alicePage, aliceKey).waitFor();
    expect(await statusWith(aliceKey)).toBe(200);

    await keyRow(alicePage, aliceKey).getByRole('button', { name: 'Rotate audit key' }).click();
    const dialog = alicePage.getByRole('dialog', { name: 'Rotate API key audit key?' });
    const hours = dialog.getByLabel('Hours the old key keeps working');
    expect(await hours.inputValue()).toBe('0');
    // Out of range (0–168): the dialog does not send it.
    await hours.fill('169');
    expect(await dialog.getByRole('button', { name: 'Rotate key' }).isDisabled()).toBe(true);
    await hours.fill('0');
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    await dialog.waitFor({ state: 'detached' });

    const shown = keys.getByRole('textbox', { name: 'New API key', exact: true });
    const rotated = await shown.inputValue();
    expect(rotated).toMatch(/^svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{38}$/);
    expect(rotated).not.toBe(aliceKey);
    await keys.getByText('it will not be shown again').waitFor();
    expect(await keys.getByRole('heading', { name: 'Your new API key “audit key”' }).count()).toBe(1);
    await keyRow(alicePage, aliceKey).waitFor({ state: 'detached' });
    expect(await keyRow(alicePage, rotated).locator('th').textContent()).toBe('audit key');

    expect(await statusWith(aliceKey)).toBe(401);
    expect(await statusWith(rotated)).toBe(200);
    const listed = (await t.http.get('/api/keys/', { as: alice.session })).data as { prefix: string; scopes: string[] }[];
    expect(listed).toMatchObject([{ prefix: rotated.slice(4, 12), scopes: ['vm:read'] }]);
    // The rotation is in the log, naming the old key.
    const table = auditRegion(alicePage).getByRole('table', { name: 'Your audit events' });
    await expect.poll(() => actionsIn(table), POLL).toContain('key.rotate');
    expect(await table.locator('tr[data-action="key.rotate"]').textContent()).toContain(aliceKey.slice(4, 12));

    // Once: after a reload the key is nowhere on the page.
    await alicePage.reload();
    await keyRow(alicePage, rotated).waitFor();
    expect(await keys.getByRole('textbox', { name: 'New API key', exact: true }).count()).toBe(0);
    expect(await alicePage.content()).not.toContain(rotated);
    aliceKey = rotated;
  });

  it('rotates a key with an overlap: the old key keeps working beside the new one', async () => {
    const keys = keysRegion(alicePage);
    await keyRow(alicePage, aliceKey).getByRole('button', { name: 'Rotate audit key' }).click();
    const dialog = alicePage.getByRole('dialog', { name: 'Rotate API key audit key?' });
    await dialog.getByLabel('Hours the old key keeps working').fill('24');
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    await dialog.waitFor({ state: 'detached' });
    const successor = await keys.getByRole('textbox', { name: 'New API key', exact: true }).inputValue();
    expect(successor).not.toBe(aliceKey);

    // Both rows, both keys work; the old one now ends within a day.
    await keyRow(alicePage, successor).waitFor();
    await keyRow(alicePage, aliceKey).waitFor();
    // Two rows of one name: their buttons still name which key they act on, by its prefix.
    for (const k of [aliceKey, successor]) {
      expect(await alicePage.getByRole('button', { name: `Rotate audit key (${k.slice(4, 12)})`, exact: true }).count()).toBe(1);
      expect(await alicePage.getByRole('button', { name: `Delete audit key (${k.slice(4, 12)})`, exact: true }).count()).toBe(1);
    }
    expect(await statusWith(aliceKey)).toBe(200);
    expect(await statusWith(successor)).toBe(200);
    const listed = (await t.http.get('/api/keys/', { as: alice.session })).data as { prefix: string; expires_at: string }[];
    const old = listed.find((k) => k.prefix === aliceKey.slice(4, 12));
    const hoursLeft = (Date.parse(old?.expires_at ?? '') - Date.now()) / 3_600_000;
    expect(hoursLeft).toBeGreaterThan(23.9);
    expect(hoursLeft).toBeLessThanOrEqual(24);
  });

  it('pages through a long audit log', async () => {
    const carol = await t.factory.user();
    for (let i = 0; i < 51; i++) await t.factory.key(carol, { name: `k${i}`, scopes: ['vm:read'] });
    // login (factory), 51 × key.create, login (browser): 53 events, 50 a page.
    const p = await pageAs(carol, '/profile');
    const audit = auditRegion(p);
    const table = audit.getByRole('table', { name: 'Your audit events' });
    await expect.poll(async () => (await actionsIn(table)).length, POLL).toBe(50);
    expect((await actionsIn(table))[0]).toBe('login');
    await audit.getByText('Page 1 of 2').waitFor();
    await audit.getByRole('button', { name: 'Next page' }).click();
    await p.waitForURL((u) => u.searchParams.get('page') === '2');
    await expect.poll(() => actionsIn(table), POLL).toEqual(['key.create', 'key.create', 'login']);
    expect(await audit.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await audit.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(async () => (await actionsIn(table)).length, POLL).toBe(50);
  });

  it('logged no script errors or Content-Security-Policy violations', () => {
    expect(consoleProblems).toEqual([]);
  });
});
