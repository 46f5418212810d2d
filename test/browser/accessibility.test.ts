// Every page of the web app, at 1280 px and at 390 px (a phone), checked by axe-core: no violation
// of serious or critical impact, and at 390 px nothing wider than the screen (spec §6). The pages
// hold VMs, volumes, keys and audit events in several states, so that every kind of row and status
// badge is checked, and the open menu, the forms (a new key, a password, a member) with their
// errors, the dialogs and a new key's notice are checked too.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, launchChromium, listen, logIn, newPage } from './browser.js';

// axe-core's own build, put into each page by evaluate(): the portal's Content-Security-Policy
// refuses inline scripts (addScriptTag), and the test checks the page under that policy.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const POLL = { timeout: 20_000, interval: 100 };
const WIDTHS = [1280, 390] as const;

interface Finding {
  where: string;
  rule: string;
  impact: string;
  help: string;
  nodes: string[];
}

let t: TestPortal;
let base: string;
let browser: Browser;
let user: TestUser;
let admin: TestUser;
let colleague: TestUser;
let project: { id: number; name: string };
const vms: Record<'active' | 'stopped' | 'broken' | 'building', { openstack_id: string; name: string }> = {} as never;
let attached: { openstack_id: string; name: string };
const consoleProblems: string[] = [];

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  user = await t.factory.user();
  admin = await t.factory.user({ superuser: true });
  colleague = await t.factory.user();
  project = await t.factory.project({ admins: [user], members: [colleague] });
  // An SSH key, so that VMs have a first-boot setup and an ssh line.
  const key = await t.http.post('/api/profile/ssh-keys/', { as: user.session, body: { name: 'laptop', generate: true } });
  if (key.statusCode !== 201) throw new Error(`SSH key: ${key.body}`);
  const made = async () => (await t.factory.vm(user, project.id)) as unknown as { openstack_id: string; name: string };
  vms.active = await made();
  vms.stopped = await made();
  vms.broken = await made();
  vms.building = await made();
  await t.http.post(`/api/vms/${vms.stopped.openstack_id}/action/`, { as: user.session, body: { os_action: 'stop' } });
  await t.factory.waitFor(user, `/api/vms/${vms.stopped.openstack_id}/`, (d) => d.status === 'SHUTOFF');
  // States the simulated cloud passes through too quickly to look at, set on settled VMs (no transition runs on them).
  const db = t.ctx.db.kysely;
  await db.updateTable('vms').set({ status: 'ERROR', fault: 'No valid host was found.' }).where('openstack_id', '=', vms.broken.openstack_id).execute();
  await db.updateTable('vms').set({ status: 'BUILD', task_state: 'spawning' }).where('openstack_id', '=', vms.building.openstack_id).execute();
  attached = (await t.factory.volume(user, project.id, { storage: 2 })) as unknown as { openstack_id: string; name: string };
  await t.factory.volume(user, project.id);
  await t.http.post(`/api/volumes/${attached.openstack_id}/action/`, { as: user.session, body: { os_action: 'attach', vm_openstack_id: vms.active.openstack_id } });
  await t.factory.waitFor(user, `/api/volumes/${attached.openstack_id}/`, (d) => d.status === 'in-use');
  await t.factory.key(user, { name: 'nightly', scopes: ['vm:read'], project_id: project.id });
  await t.factory.key(user, { name: 'everything' });
  // A refused login: a failure in the audit log.
  await t.http.post('/api/auth/login', { body: { username: user.username, password: 'not the password' } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** Waits until the page has what `ready` names and nothing on it is loading any more. */
async function settled(p: Page, ready: Locator): Promise<void> {
  await ready.first().waitFor();
  await expect.poll(() => p.locator('.loading').count(), POLL).toBe(0);
}

/** axe-core's serious and critical violations on the page as it is now. */
async function check(p: Page, where: string, width: number): Promise<Finding[]> {
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(AXE_SOURCE);
  const violations = await p.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: any[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      rule: v.id as string,
      impact: v.impact as string,
      help: v.help as string,
      nodes: (v.nodes as { target: string[]; failureSummary?: string }[]).map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ where: `${where} at ${width} px`, ...v }));
}

async function scrollWidth(p: Page): Promise<number> {
  return p.evaluate(() => document.documentElement.scrollWidth);
}

describe.each(WIDTHS)('at %i px', (width) => {
  const findings: Finding[] = [];
  const tooWide: string[] = [];
  let page: Page;

  /** Checks the page as it is: axe, and at a phone's width that nothing is wider than the screen. */
  const look = async (where: string) => {
    findings.push(...(await check(page, where, width)));
    if (width < 640) {
      const scroll = await scrollWidth(page);
      if (scroll > width) tooWide.push(`${where}: ${scroll} px`);
    }
  };

  beforeAll(async () => {
    const context = await browser.newContext({ baseURL: base, viewport: { width, height: 900 } });
    page = await newPage(context, consoleProblems);
  });

  afterAll(async () => {
    await page?.context().close();
  });

  it('checks the login page', async () => {
    await page.goto('/login');
    await settled(page, page.getByRole('button', { name: 'Log in' }));
    await look('login');
  });

  it("checks a user's pages", async () => {
    await logIn(page, user.username);
    await page.waitForURL((u) => u.pathname === '/vms');
    await settled(page, page.locator(`tr[data-vm="${vms.building.name}"]`));
    // The badges say the status in words (not only in colour), in every state the list shows here.
    for (const [vm, status] of [[vms.active, 'ACTIVE'], [vms.stopped, 'SHUTOFF'], [vms.broken, 'ERROR'], [vms.building, 'BUILD']] as const) {
      await expect.poll(() => page.locator(`tr[data-vm="${vm.name}"]`).getByTestId('vm-status').textContent(), POLL).toBe(status);
    }
    await look('VMs');

    if (width < 640) {
      await page.getByRole('button', { name: 'Menu' }).click();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Volumes' }).waitFor();
      await look('VMs with the menu open');
      await page.getByRole('button', { name: 'Menu' }).click();
    }

    await page.getByRole('button', { name: `Delete ${vms.stopped.name}` }).click();
    await page.getByRole('dialog').waitFor();
    await look('VMs, Delete dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    await page.goto(`/vms/new?project=${project.id}`);
    await settled(page, page.getByRole('region', { name: `Quota left in ${project.name}` }));
    await look('New VM');

    await page.goto(`/vms/${vms.active.openstack_id}`);
    await settled(page, page.getByTestId('ssh-command'));
    await page.locator(`tr[data-volume="${attached.name}"]`).waitFor();
    await page.getByRole('button', { name: 'Show log' }).click();
    await settled(page, page.getByRole('button', { name: 'Hide log' }));
    await look('VM detail');

    await page.goto(`/vms/${vms.broken.openstack_id}`);
    await settled(page, page.getByText('No valid host was found.'));
    await look('VM detail (ERROR)');

    await page.goto('/volumes');
    await settled(page, page.locator(`tr[data-volume="${attached.name}"]`));
    await look('volumes');

    await page.goto('/projects');
    await settled(page, page.getByRole('group', { name: `Quota of ${project.name}` }));
    await look('projects');

    await page.goto(`/projects/${project.id}`);
    await settled(page, page.getByRole('heading', { name: 'Members' }));
    await page.locator(`tr[data-member="${colleague.username}"]`).waitFor();
    await page.locator('tr[data-flavor]').first().waitFor();
    await page.locator('tr[data-image]').first().waitFor();
    await look('project overview');

    // The project's admin manages its members: the API's refusals, and the Remove dialog.
    const members = page.getByRole('region', { name: 'Members' });
    const addMember = members.getByRole('form', { name: 'Add a member' });
    await addMember.getByLabel('Username', { exact: true }).fill('nobody-of-this-name');
    await addMember.getByRole('button', { name: 'Add member' }).click();
    await addMember.getByRole('alert').waitFor();
    await members.getByRole('button', { name: `Make member (${user.username})` }).click();
    await members.locator(`tr[data-member="${user.username}"]`).getByRole('alert').waitFor();
    await look('project overview, member changes refused');
    await members.getByRole('button', { name: `Remove ${colleague.username}` }).click();
    await page.getByRole('dialog').waitFor();
    await look('project overview, Remove member dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    await page.goto(`/projects/${project.id}?tab=keys`);
    await settled(page, page.locator('tr[data-key-prefix]'));
    await look('project API keys');

    await page.goto('/profile');
    await settled(page, page.locator('tr[data-key-prefix]'));
    await page.locator('tr[data-action="login"]').first().waitFor();
    await look('profile');

    // The password form's own findings, by each field (nothing is sent: the password stays).
    const password = page.getByRole('form', { name: 'Change password' });
    await password.getByLabel('New password', { exact: true }).fill('too short');
    await password.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => password.getByRole('alert').count(), POLL).toBe(3);
    await look('profile, password form refused');

    const keys = page.getByRole('region', { name: 'API keys BETA' });
    await keys.getByRole('button', { name: 'Generate new API key' }).click();
    await keys.getByLabel('On a date').check();
    await keys.getByLabel('Expiry date').waitFor();
    await look('profile, new key form');
    await keys.getByLabel('Name', { exact: true }).fill('checked');
    await keys.getByLabel('vm:read', { exact: true }).check();
    await keys.getByRole('button', { name: 'Generate', exact: true }).click();
    await keys.getByTestId('new-key-curl').waitFor();
    await look('profile, new key shown');
  });

  it("checks a superuser's audit log", async () => {
    if (width < 640) await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    await logIn(page, admin.username);
    await page.waitForURL((u) => u.pathname === '/vms');
    await page.goto('/admin/audit');
    await settled(page, page.locator('tr[data-action="login_failed"]'));
    await look('audit log (superuser)');

    await page.goto('/profile');
    await settled(page, page.locator('tr[data-action="login"]'));
    await look('profile (superuser)');

    // A superuser who is not a member manages the members too.
    await page.goto(`/projects/${project.id}`);
    await settled(page, page.getByRole('form', { name: 'Add a member' }));
    await page.locator(`tr[data-member="${colleague.username}"]`).waitFor();
    await look('project overview (superuser)');
  });

  it('found no serious or critical violation, and nothing wider than the screen', () => {
    expect(findings).toEqual([]);
    expect(tooWide).toEqual([]);
  });
});

it('logged no script errors or Content-Security-Policy violations', () => {
  expect(consoleProblems).toEqual([]);
});
