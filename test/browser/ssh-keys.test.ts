// The profile's SSH keys section (spec §9) in Debian's Chromium against a real listening portal: a
// key made by ssh-keygen is pasted and listed with the fingerprint `ssh-keygen -lf` prints, a weak
// key's refusal shows beside the paste box, a generated key pair's private key is downloaded once
// (a file `ssh-keygen -y` reads, whose public half the portal keeps), and a key is deleted after a
// confirmation.
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from '../helpers.js';
import { tempDir } from '../process.js';
import { ensureWebBuilt, listen, logIn, openApp } from './browser.js';

const POLL = { timeout: 20_000, interval: 100 };

const tmp = tempDir('simplevm-ssh-browser-');
let t: TestPortal;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let user: TestUser;
/** Console messages that are not a failed fetch the app handles (script errors, CSP violations). */
const consoleProblems: string[] = [];

const sshKeygen = (args: string[]) => execFileSync('ssh-keygen', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function makeKey(name: string, typeArgs: string[]): { line: string; fingerprint: string } {
  const file = path.join(tmp.dir, name);
  sshKeygen(['-q', ...typeArgs, '-N', '', '-C', `${name}@laptop`, '-f', file]);
  return { line: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint: sshKeygen(['-l', '-f', `${file}.pub`]).split(' ')[1] };
}

const section = () => page.getByRole('region', { name: 'SSH keys' });
const form = () => section().getByRole('form', { name: 'Add key' });
const rowFingerprints = () => section().locator('tr[data-fingerprint]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-fingerprint')));
const storedKeys = () =>
  t.ctx.db.kysely.selectFrom('ssh_keys').select(['name', 'public_key', 'fingerprint']).where('user_id', '=', user.id).orderBy('id').execute();

beforeAll(async () => {
  ensureWebBuilt();
  t = await buildTestApp();
  const base = await listen(t);
  user = await t.factory.user();
  ({ browser, context, page } = await openApp(base, consoleProblems, { downloads: true }));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  tmp.remove();
});

describe('the profile\'s SSH keys', () => {
  it('is a section of the profile, empty at first', async () => {
    await page.goto('/profile');
    await logIn(page, user.username);
    await page.waitForURL((u) => u.pathname === '/profile');
    await section().getByRole('heading', { name: 'SSH keys' }).waitFor();
    await section().getByText('You have no SSH keys yet.').waitFor();
    await form().getByLabel('Public key').waitFor();
  });

  it('adds a pasted ssh-keygen key, named after its comment unless named, and lists its fingerprint', async () => {
    const key = makeKey('ed25519', ['-t', 'ed25519']);
    const pasteBox = form().getByLabel('Public key');
    await pasteBox.fill(key.line);
    // The comment is the name until one is typed.
    expect(await form().getByLabel('Name', { exact: true }).inputValue()).toBe('ed25519@laptop');
    await form().getByLabel('Name', { exact: true }).fill('my laptop');
    await form().getByRole('button', { name: 'Add key' }).click();

    await expect.poll(rowFingerprints, POLL).toEqual([key.fingerprint]);
    const row = section().locator(`tr[data-fingerprint="${key.fingerprint}"]`);
    expect(await row.locator('th').textContent()).toBe('my laptop');
    expect(await row.locator('td').allTextContents()).toEqual(['ssh-ed25519', key.fingerprint, expect.any(String), 'Delete']);
    expect(await section().getByRole('columnheader').allTextContents()).toEqual(['Name', 'Type', 'Fingerprint', 'Added', 'Actions']);
    // The form is empty again.
    expect(await pasteBox.inputValue()).toBe('');
    expect((await storedKeys()).map((k) => k.fingerprint)).toEqual([key.fingerprint]);
  });

  it('shows why a key is refused beside the paste box, and adds nothing', async () => {
    const weak = makeKey('rsa1024', ['-t', 'rsa', '-b', '1024']);
    const pasteBox = form().getByLabel('Public key');
    await pasteBox.fill(weak.line);
    await form().getByRole('button', { name: 'Add key' }).click();
    await expect.poll(() => pasteBox.getAttribute('aria-invalid'), POLL).toBe('true');
    const described = await pasteBox.evaluate((el) =>
      (el.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? ''));
    expect(described).toContainEqual(expect.stringContaining('at least 2048 bits'));
    expect(await section().getByRole('alert').textContent()).toContain('1024 bits');
    expect(await storedKeys()).toHaveLength(1);
    await pasteBox.fill('');
  });

  it('generates a key pair: the private key downloads once as <name>.key, which ssh-keygen -y reads to the kept public key', async () => {
    await form().getByLabel('Name', { exact: true }).fill('cloud key');
    const [download] = await Promise.all([page.waitForEvent('download'), form().getByRole('button', { name: 'Generate key pair' }).click()]);
    expect(download.suggestedFilename()).toBe('cloud_key.key');
    const file = path.join(tmp.dir, 'cloud_key.key');
    await download.saveAs(file);
    chmodSync(file, 0o600);
    const privateKey = readFileSync(file, 'utf8');
    expect(privateKey.startsWith('-----BEGIN OPENSSH PRIVATE KEY-----\n')).toBe(true);
    const derived = sshKeygen(['-y', '-f', file]).trim().split(' ');

    const notice = section().getByRole('region', { name: 'Your new key pair “cloud key”' });
    await notice.getByText('It will not be shown again').waitFor();
    await notice.getByText('chmod 600 ~/.ssh/cloud_key.key').waitFor();

    const stored = (await storedKeys()).find((k) => k.name === 'cloud key');
    expect(stored?.public_key).toBe(`${derived[0]} ${derived[1]} cloud key`);
    expect(sshKeygen(['-l', '-f', file]).split(' ')[1]).toBe(stored?.fingerprint);
    await expect.poll(async () => (await rowFingerprints()).length, POLL).toBe(2);
    expect(await rowFingerprints()).toContain(stored?.fingerprint);
    // The private key is nowhere in the page but the download link's blob.
    expect(await page.content()).not.toContain(privateKey.split('\n')[2]);

    await notice.getByRole('button', { name: 'Done' }).click();
    await notice.waitFor({ state: 'detached' });
    // A reload shows the keys, and no private key.
    await page.reload();
    await expect.poll(async () => (await rowFingerprints()).length, POLL).toBe(2);
    expect(await section().getByText('It will not be shown again').count()).toBe(0);
  });

  it('deletes a key after asking', async () => {
    const before = await rowFingerprints();
    const gone = (await storedKeys()).find((k) => k.name === 'my laptop')!;
    await section().getByRole('button', { name: 'Delete SSH key my laptop' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete SSH key my laptop?' });
    await dialog.getByText(gone.fingerprint).waitFor();
    // Cancel keeps it.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await rowFingerprints()).toEqual(before);

    await section().getByRole('button', { name: 'Delete SSH key my laptop' }).click();
    await page.getByRole('dialog', { name: 'Delete SSH key my laptop?' }).getByRole('button', { name: 'Delete key' }).click();
    await expect.poll(rowFingerprints, POLL).toEqual(before.filter((f) => f !== gone.fingerprint));
    expect((await storedKeys()).map((k) => k.name)).toEqual(['cloud key']);
    // The profile's audit log shows what was done.
    const audit = page.getByRole('table', { name: 'Your audit events' });
    await expect.poll(async () => (await audit.textContent()) ?? '', POLL).toContain('ssh_key.delete');
    expect(await audit.textContent()).toContain('ssh_key.create');
  });
});

describe('the browser', () => {
  it('logged no script errors or Content-Security-Policy violations', () => {
    expect(consoleProblems).toEqual([]);
  });
});
