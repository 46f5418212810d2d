// A VM's page and the New VM form's optional parts (spec §6, §8, §9) in Debian's Chromium against a
// real listening portal: a user with an SSH key made by ssh-keygen creates a VM with the RStudio
// environment, a first-boot script and a volume mounted at /vol/data, opens it from the list by its
// name, copies its ssh line, finds its Open link, fingerprint and volume, and stops and resumes it
// there. Also: a VM that failed, an unknown VM, and a 390 px wide screen.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedProvider } from '../../src/server/cloud/simulated/simulated.provider.js';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { tempDir } from '../process.js';
import { ensureWebBuilt, listen, logIn, newPage, openApp } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };
const SCRIPT = '#!/bin/bash\necho "hello from the first boot" > ~/hello.txt\n';

const tmp = tempDir('simplevm-vm-detail-browser-');
let t: TestPortal;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let user: TestUser;
let project: { id: number; name: string };
let volume: { openstack_id: string; name: string };
let fingerprint: string;
/** The VM the form creates: its openstack_id, once known. */
let vmId = '';
/** Console messages that are not a failed fetch the app handles (script errors, CSP violations). */
const consoleProblems: string[] = [];

const pathOf = (p: Page) => new URL(p.url()).pathname + new URL(p.url()).search;
const status = () => page.getByTestId('vm-status').textContent();
const apiVm = async (id: string) => (await t.http.get(`/api/vms/${id}/`, { as: user.session })).data;

/** A failed wait, with what the page showed and what went wrong in it. */
async function explained(wait: Promise<void>): Promise<void> {
  try {
    await wait;
  } catch (e) {
    const shown = await page.locator('main').innerText().catch(() => '(no main)');
    throw new Error(`${String(e)}\nThe page (${page.url()}) shows:\n${shown}\nProblems: ${consoleProblems.join('; ') || 'none'}`);
  }
}

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  base = await listen(t);
  user = await t.factory.user();
  // The user's public key, made by ssh-keygen and added as the profile's SSH keys section would.
  const keyFile = path.join(tmp.dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'me@laptop', '-f', keyFile], { stdio: 'ignore' });
  const added = await t.http.post('/api/profile/ssh-keys/', { as: user.session, body: { name: 'laptop', public_key: readFileSync(`${keyFile}.pub`, 'utf8').trim() } });
  expect(added.statusCode).toBe(201);
  fingerprint = added.data.fingerprint;
  expect(fingerprint).toBe(execFileSync('ssh-keygen', ['-l', '-f', `${keyFile}.pub`], { encoding: 'utf8' }).split(' ')[1]);
  project = await t.factory.project({ members: [user] });
  volume = (await t.factory.volume(user, project.id)) as unknown as { openstack_id: string; name: string };
  // The Copy button writes to the clipboard; the test reads it back.
  ({ browser, context, page } = await openApp(base, consoleProblems, { clipboard: true }));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  tmp.remove();
});

describe('the New VM form\'s optional parts', () => {
  it('limits the images to a research environment\'s, checks paths and the script\'s size, and sends only what was set', async () => {
    await page.goto(`/vms/new?project=${project.id}`);
    await logIn(page, user.username);
    await page.waitForURL((u) => u.pathname === '/vms/new');
    const image = page.getByLabel('Image', { exact: true });
    const imageOptions = () => image.locator('option').allTextContents();
    await explained(expect.poll(imageOptions, POLL).toContain('Ubuntu-24.04'));
    expect(await imageOptions()).toContain('Ubuntu-24.04-RStudio');
    const environment = page.getByLabel('Research environment');
    expect(await environment.locator('option').allTextContents()).toEqual(expect.arrayContaining(['None', 'RStudio', 'JupyterLab']));
    expect(await page.getByLabel('Path', { exact: true }).count()).toBe(0);

    // An environment that no image of the project comes with: a sentence, and no image to pick.
    await environment.selectOption({ label: 'Guacamole' });
    await page.getByText('This project has no image that comes with Guacamole.').waitFor();
    expect(await image.isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Create VM' }).isDisabled()).toBe(true);

    // RStudio: only the RStudio image.
    await environment.selectOption({ label: 'RStudio' });
    await expect.poll(imageOptions, POLL).toEqual(['Ubuntu-24.04-RStudio']);
    expect(await image.inputValue()).toBe('Ubuntu-24.04-RStudio');
    await page.getByLabel('Path', { exact: true }).waitFor();
    expect(await page.getByLabel('The image has it installed already').isChecked()).toBe(false);
    await page.getByLabel('Path', { exact: true }).fill('/a/../b');
    await page.getByText('The path may not contain . or .. segments.').waitFor();
    await page.getByLabel('Path', { exact: true }).fill('');

    // The script's size is counted in bytes: 33,000 two-byte characters are over 64 KiB.
    const script = page.getByLabel('First-boot script');
    await script.fill('é'.repeat(33_000));
    await page.getByText('The script is 66,000 bytes: at most 65,536 bytes (64 KiB) are allowed.').waitFor();
    expect(await script.getAttribute('aria-invalid')).toBe('true');
    await script.fill(SCRIPT);
    expect(await script.getAttribute('aria-invalid')).toBeNull();
    await page.getByText('runs once, at the first boot, as the login user', { exact: false }).waitFor();

    // The project's available volume, at /vol/<its name> unless told otherwise; the path checked as the API checks it.
    const attach = page.getByLabel(`Attach ${volume.name} (1 GB)`);
    await attach.check();
    const mountPath = page.getByLabel(`Mount path for ${volume.name}`);
    expect(await mountPath.inputValue()).toBe(`/vol/${volume.name}`);
    await mountPath.fill('vol/data');
    await page.getByText('Use an absolute path (starting with /)').waitFor();
    expect(await mountPath.getAttribute('aria-invalid')).toBe('true');
    await mountPath.fill('/vol/data');
    expect(await mountPath.getAttribute('aria-invalid')).toBeNull();
    expect(await page.getByLabel('Give every project member\'s SSH keys access').isChecked()).toBe(false);

    await page.getByLabel('Flavor').selectOption('de.NBI tiny');
    await page.getByLabel('Name', { exact: true }).fill('rstudio-1');
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/vms'),
      page.getByRole('button', { name: 'Create VM' }).click(),
    ]);
    // Only the fields the user set: no empty path, no create_only, no member_access.
    expect(request.postDataJSON()).toEqual({
      project_id: project.id,
      image_name: 'Ubuntu-24.04-RStudio',
      flavor_name: 'de.NBI tiny',
      vm_name: 'rstudio-1',
      research_environment_backend: { template: 'rstudio' },
      additional_script: SCRIPT,
      volumes: [{ openstack_id: volume.openstack_id, path: '/vol/data' }],
    });
    await page.waitForURL((u) => u.pathname === '/vms');
    await page.locator('tr[data-vm="rstudio-1"]').waitFor();
    vmId = (await t.http.get(`/api/vms/?project_id=${project.id}&text=rstudio-1`, { as: user.session })).data.results[0].openstack_id;

    // The script and the mount are in what the VM boots with.
    const boot = await (t.ctx.cloud as SimulatedProvider).serverBoot(vmId);
    expect(boot?.userData).toContain('hello from the first boot');
    expect(boot?.userData).toContain('/vol/data');
  });

  it('shows a refusal of the API next to the field it names, and sends member_access when ticked', async () => {
    const spare = (await t.factory.volume(user, project.id)) as unknown as { openstack_id: string; name: string };
    await page.goto(`/vms/new?project=${project.id}`);
    const image = page.getByLabel('Image', { exact: true });
    await explained(expect.poll(() => image.locator('option').allTextContents(), POLL).toContain('Ubuntu-24.04'));
    await page.getByLabel('Name', { exact: true }).fill('second');
    await page.getByLabel(`Attach ${spare.name} (1 GB)`).check();
    // The volume goes while the form is open (as from another tab): the API refuses it, beside the volumes.
    expect((await t.http.delete(`/api/volumes/${spare.openstack_id}/`, { as: user.session })).statusCode).toBeLessThan(300);
    await page.getByRole('button', { name: 'Create VM' }).click();
    const volumes = page.getByRole('group', { name: 'Volumes to attach' });
    await expect.poll(() => volumes.getByRole('alert').textContent(), POLL).toContain('Not an available volume of this project');
    expect(pathOf(page)).toBe(`/vms/new?project=${project.id}`);

    await page.getByLabel(`Attach ${spare.name} (1 GB)`).uncheck();
    await page.getByLabel('Give every project member\'s SSH keys access').check();
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/vms'),
      page.getByRole('button', { name: 'Create VM' }).click(),
    ]);
    expect(request.postDataJSON()).toEqual({ project_id: project.id, image_name: expect.any(String), flavor_name: expect.any(String), vm_name: 'second', member_access: true });
    await page.waitForURL((u) => u.pathname === '/vms');
    await page.locator('tr[data-vm="second"]').waitFor();
  });
});

describe('a VM\'s page', () => {
  it('opens from the list by the VM\'s name and shows how to connect once the VM is ACTIVE', async () => {
    await page.goto(`/vms?project=${project.id}`);
    await page.getByRole('link', { name: 'rstudio-1', exact: true }).click();
    await page.waitForURL((u) => u.pathname === `/vms/${vmId}`);
    await page.getByRole('heading', { name: 'rstudio-1', level: 1 }).waitFor();
    await explained(expect.poll(status, POLL).toBe('ACTIVE'));

    const vm = await apiVm(vmId);
    expect(vm).toMatchObject({ status: 'ACTIVE', research_environment: 'rstudio', volumes: [volume.openstack_id], ssh_keys: [fingerprint] });
    const connect = page.getByRole('region', { name: 'How to connect' });
    const command = connect.getByTestId('ssh-command');
    await expect.poll(() => command.textContent(), POLL).toBe(vm.access.ssh.command);
    expect(await command.evaluate((el) => el.tagName)).toBe('CODE');

    await connect.getByRole('button', { name: 'Copy ssh command' }).click();
    await connect.getByText('Copied', { exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(vm.access.ssh.command);

    const open = connect.getByRole('link', { name: 'Open RStudio' });
    expect(await open.getAttribute('href')).toBe(`/resenv/${vmId}/`);
    expect(vm.access.research_environment.url).toBe(`/resenv/${vmId}/`);
    expect(await open.getAttribute('target')).toBe('_blank');

    // The id, with its own copy button.
    expect(await page.getByTestId('vm-id').textContent()).toBe(vmId);
    await page.getByRole('button', { name: 'Copy VM id' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), POLL).toBe(vmId);

    const details = page.getByRole('region', { name: 'Details' });
    const text = (await details.textContent()) ?? '';
    for (const shown of [project.name, user.username, 'Ubuntu-24.04-RStudio', 'de.NBI tiny', vm.fixed_ip, 'RStudio']) expect(text).toContain(shown);
    expect(text).not.toContain('Fault');

    const keys = page.getByRole('region', { name: 'SSH keys' });
    await keys.locator(`[data-fingerprint="${fingerprint}"]`).waitFor();
    expect(await keys.textContent()).toContain('laptop');

    const volumes = page.getByRole('region', { name: 'Volumes' });
    const row = volumes.locator(`tr[data-volume="${volume.name}"]`);
    await explained(row.waitFor());
    await expect.poll(() => row.textContent(), POLL).toContain('in-use');
  });

  it('stops and resumes the VM with the buttons its state allows', async () => {
    const button = (label: string) => page.getByRole('group', { name: 'Actions' }).getByRole('button', { name: label, exact: true });
    expect(await button('Start').isDisabled()).toBe(true);
    expect(await button('Reboot').isEnabled()).toBe(true);
    expect(await button('Delete').isEnabled()).toBe(true);

    await button('Stop').click();
    await explained(expect.poll(status, POLL).toBe('SHUTOFF'));
    await page.getByText('The VM is stopped: start it to connect.').waitFor();
    expect(await button('Stop').isDisabled()).toBe(true);
    expect(await button('Reboot').isDisabled()).toBe(true);
    expect((await apiVm(vmId)).status).toBe('SHUTOFF');

    await button('Start').click();
    await explained(expect.poll(status, POLL).toBe('ACTIVE'));
    expect(await button('Start').isDisabled()).toBe(true);
    expect((await apiVm(vmId)).status).toBe('ACTIVE');
  });

  it('says that the way in shows once the VM is ACTIVE, shows a failed VM\'s fault, and allows only Delete', async () => {
    const failed = await t.factory.vm(user, project.id);
    await t.ctx.db.kysely.updateTable('vms').set({ status: 'ERROR', fault: 'No valid host was found.' }).where('openstack_id', '=', failed.openstack_id).execute();
    await page.goto(`/vms/${failed.openstack_id}`);
    await explained(expect.poll(status, POLL).toBe('ERROR'));
    await page.getByTestId('connect-later').getByText('Once the VM is ACTIVE', { exact: false }).waitFor();
    expect(await page.getByTestId('ssh-command').count()).toBe(0);
    expect(await page.getByRole('region', { name: 'Details' }).textContent()).toContain('No valid host was found.');
    // It was given the user's key; a VM without any would point to the profile.
    await page.locator(`[data-fingerprint="${fingerprint}"]`).waitFor();
    const actions = page.getByRole('group', { name: 'Actions' });
    for (const label of ['Start', 'Stop', 'Reboot']) expect(await actions.getByRole('button', { name: label, exact: true }).isDisabled()).toBe(true);
    expect(await actions.getByRole('button', { name: 'Delete', exact: true }).isEnabled()).toBe(true);
  });

  it('points to the profile\'s SSH keys when the VM was given none', async () => {
    const other = await t.factory.user();
    const theirProject = await t.factory.project({ members: [other] });
    const keyless = await t.factory.vm(other, theirProject.id);
    const ctx = await browser.newContext({ baseURL: base });
    try {
      const p = await newPage(ctx, consoleProblems);
      await p.goto(`/vms/${keyless.openstack_id}`);
      await logIn(p, other.username);
      await p.waitForURL((u) => u.pathname === `/vms/${keyless.openstack_id}`);
      const keys = p.getByRole('region', { name: 'SSH keys' });
      await keys.getByText('This VM was given no SSH keys', { exact: false }).waitFor();
      expect(await keys.getByRole('link', { name: 'SSH keys section of your profile' }).getAttribute('href')).toBe('/profile');
    } finally {
      await ctx.close();
    }
  });

  it('says "No such VM" for an unknown VM and for one out of the user\'s reach', async () => {
    await page.goto('/vms/00000000-0000-0000-0000-000000000000');
    await page.getByRole('heading', { name: 'No such VM', level: 1 }).waitFor();
    const stranger = await t.factory.user();
    const theirs = await t.factory.vm(stranger, (await t.factory.project({ members: [stranger] })).id);
    await page.goto(`/vms/${theirs.openstack_id}`);
    await page.getByRole('heading', { name: 'No such VM', level: 1 }).waitFor();
    expect(pathOf(page)).toBe(`/vms/${theirs.openstack_id}`);
  });

  it('fits a 390 px wide screen, as does the New VM form', async () => {
    const phone = await browser.newContext({ baseURL: base, viewport: { width: 390, height: 844 } });
    try {
      const p = await newPage(phone, consoleProblems);
      await p.goto(`/vms/${vmId}`);
      await logIn(p, user.username);
      await p.waitForURL((u) => u.pathname === `/vms/${vmId}`);
      await p.getByTestId('ssh-command').waitFor();
      await p.locator(`tr[data-volume="${volume.name}"]`).waitFor();
      const width = () => p.evaluate(() => document.documentElement.scrollWidth);
      expect(await width()).toBeLessThanOrEqual(390);

      await p.goto(`/vms/new?project=${project.id}`);
      await expect.poll(() => p.getByLabel('Image', { exact: true }).locator('option').count(), POLL).toBeGreaterThan(0);
      await p.getByLabel('Research environment').selectOption({ label: 'RStudio' });
      await p.getByLabel('Path', { exact: true }).waitFor();
      expect(await width()).toBeLessThanOrEqual(390);
    } finally {
      await phone.close();
    }
  });
});

describe('the browser', () => {
  it('logged no script errors or Content-Security-Policy violations', () => {
    expect(consoleProblems).toEqual([]);
  });
});
