// Conda packages and the first-boot setup (spec §10) in Debian's Chromium against a real listening
// portal: a user picks two packages from the catalogue in the New VM form (one pinned to a version),
// tries a name the catalogue does not list, creates the VM, finds its packages on its page, watches
// Setup go to Done (the simulated cloud reports a moment after ACTIVE) and opens the log. A VM whose
// first-boot script has the line `exit 1` shows Failed with exit code 1.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_CATALOGUE } from '../../src/server/modules/conda/conda.catalogue.js';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { ensureWebBuilt, listen, logIn, openApp } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };

let t: TestPortal;
let browser: Browser;
let page: Page;
let user: TestUser;
let project: { id: number; name: string };
/** Console messages that are not a failed fetch the app handles (script errors, CSP violations). */
const consoleProblems: string[] = [];

/** A failed wait, with what the page showed and what went wrong in it. */
async function explained(wait: Promise<void>): Promise<void> {
  try {
    await wait;
  } catch (e) {
    const shown = await page.locator('main').innerText().catch(() => '(no main)');
    throw new Error(`${String(e)}\nThe page (${page.url()}) shows:\n${shown}\nProblems: ${consoleProblems.join('; ') || 'none'}`);
  }
}

const packagesOf = (list: ReturnType<Page['getByRole']>) => list.getByRole('listitem').evaluateAll((items) => items.map((li) => li.getAttribute('data-package')));

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  const base = await listen(t);
  user = await t.factory.user();
  project = await t.factory.project({ members: [user] });
  ({ browser, page } = await openApp(base, consoleProblems));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('conda packages and the setup status', () => {
  it('picks packages in the New VM form, shows them on the VM\'s page, and the setup\'s end and log', async () => {
    await page.goto(`/vms/new?project=${project.id}`);
    await logIn(page, user.username);
    await page.waitForURL((u) => u.pathname === '/vms/new');
    await explained(expect.poll(() => page.getByLabel('Image', { exact: true }).locator('option').count(), POLL).toBeGreaterThan(0));

    const picker = page.getByRole('group', { name: 'Conda packages' });
    const search = picker.getByLabel('Search conda packages');
    const suggestions = picker.getByRole('list', { name: 'Suggested conda packages' });
    const chosen = picker.getByRole('list', { name: 'Chosen conda packages' });

    // samtools, pinned to a version of its list.
    const samtools = SHIPPED_CATALOGUE.find((p) => p.name === 'samtools');
    const version = samtools?.versions[1] ?? '';
    expect(version).not.toBe('');
    await search.fill('samtools');
    await explained(expect.poll(() => packagesOf(suggestions), POLL).toEqual(['samtools']));
    const versionChoice = picker.getByLabel('Version of samtools');
    expect(await versionChoice.locator('option').allTextContents()).toEqual(['latest', ...(samtools?.versions ?? [])]);
    await versionChoice.selectOption(version);
    await picker.getByRole('button', { name: 'Add samtools', exact: true }).click();
    await expect.poll(() => chosen.getByRole('listitem').allTextContents(), POLL).toEqual([`samtools=${version}×`]);
    expect(await search.inputValue()).toBe('');

    // bwa, the latest: the exact name comes before the names that begin with it.
    await search.fill('BWA');
    await explained(expect.poll(() => packagesOf(suggestions), POLL).toEqual(['bwa', 'bwa-mem2']));
    await picker.getByRole('button', { name: 'Add bwa', exact: true }).click();
    await expect.poll(() => packagesOf(chosen), POLL).toEqual(['samtools', 'bwa']);
    expect(await chosen.textContent()).toContain('bwa (latest)');
    await picker.getByText('2 of at most 50 packages.').waitFor();

    // A name the catalogue does not list can be added too; one conda would not take cannot.
    await search.fill('bad name!');
    await picker.getByRole('alert').getByText('Not a conda package name', { exact: false }).waitFor();
    expect(await search.getAttribute('aria-invalid')).toBe('true');
    await search.fill('my-own_tool.x=2.0');
    await picker.getByText('my-own_tool.x is not in the portal\'s list', { exact: false }).waitFor();
    await picker.getByRole('button', { name: 'Add my-own_tool.x=2.0', exact: true }).click();
    await expect.poll(() => packagesOf(chosen), POLL).toEqual(['samtools', 'bwa', 'my-own_tool.x']);
    // Enter in the search box adds what it holds, without sending the form.
    await search.fill('another-tool');
    await picker.getByRole('button', { name: 'Add another-tool', exact: true }).waitFor();
    await search.press('Enter');
    await expect.poll(() => packagesOf(chosen), POLL).toEqual(['samtools', 'bwa', 'my-own_tool.x', 'another-tool']);
    expect(new URL(page.url()).pathname).toBe('/vms/new');
    await picker.getByRole('button', { name: 'Remove my-own_tool.x', exact: true }).click();
    await picker.getByRole('button', { name: 'Remove another-tool', exact: true }).click();
    await expect.poll(() => packagesOf(chosen), POLL).toEqual(['samtools', 'bwa']);

    await page.getByLabel('Name', { exact: true }).fill('conda-1');
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/vms'),
      page.getByRole('button', { name: 'Create VM' }).click(),
    ]);
    expect(request.postDataJSON()).toMatchObject({ vm_name: 'conda-1', conda_packages: [`samtools=${version}`, 'bwa'] });
    await page.waitForURL((u) => u.pathname === '/vms');

    await page.getByRole('link', { name: 'conda-1', exact: true }).click();
    await page.getByRole('heading', { name: 'conda-1', level: 1 }).waitFor();
    const setup = page.getByRole('region', { name: 'Setup' });
    const packages = setup.getByRole('list', { name: 'Conda packages' });
    await explained(expect.poll(() => packages.getByRole('listitem').allTextContents(), POLL).toEqual([`samtools=${version}`, 'bwa (latest)']));

    // The page keeps reading the VM until its setup reports its end.
    await explained(expect.poll(() => setup.getByTestId('setup-state').textContent(), POLL).toBe('Done'));
    expect(await setup.getByTestId('setup-sentence').textContent()).toContain('the VM is ready');
    expect(await setup.getByTestId('setup-reported').textContent()).toMatch(/^Last report: /);
    const vmId = new URL(page.url()).pathname.split('/').pop() ?? '';
    const vm = (await t.http.get(`/api/vms/${vmId}/`, { as: user.session })).data;
    expect(vm).toMatchObject({ setup: { state: 'done', exit_code: 0 }, playbook_done: true, playbook_successful: true });

    const show = setup.getByRole('button', { name: 'Show log' });
    expect(await show.getAttribute('aria-expanded')).toBe('false');
    await show.click();
    const log = setup.getByTestId('setup-log');
    await explained(expect.poll(() => log.textContent(), POLL).toBe((await t.http.get(`/api/vms/${vmId}/setup/log/`, { as: user.session })).body));
    expect(await log.textContent()).toContain('setup done');
    expect(await log.evaluate((el) => el.tagName)).toBe('PRE');
    expect(await log.evaluate((el) => getComputedStyle(el).overflowY)).toBe('auto');
    await setup.getByRole('button', { name: 'Hide log' }).click();
    expect(await log.count()).toBe(0);
    expect(consoleProblems).toEqual([]);
  });

  it('shows Failed with exit code 1 for a VM whose first-boot script has the line `exit 1`, and its log', async () => {
    const res = await t.http.post('/api/vms/', {
      as: user.session,
      body: { project_id: project.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: 'fails-1', additional_script: 'echo starting\nexit 1\n' },
    });
    expect(res.statusCode, res.body).toBe(201);
    await page.goto(`/vms/${res.data.openstack_id}`);
    const setup = page.getByRole('region', { name: 'Setup' });
    await explained(expect.poll(() => setup.getByTestId('setup-state').textContent(), POLL).toBe('Failed (exit code 1)'));
    expect(await setup.getByTestId('setup-sentence').textContent()).toBe('The setup failed with exit code 1. The log shows what went wrong.');
    await setup.getByText('None were asked for when the VM was created.').waitFor();
    await setup.getByRole('button', { name: 'Show log' }).click();
    await explained(expect.poll(() => setup.getByTestId('setup-log').textContent(), POLL).toContain('exit 1'));
    expect(consoleProblems).toEqual([]);
  });
});
