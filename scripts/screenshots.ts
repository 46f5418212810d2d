// `npm run screenshots`: takes docs/screenshots/{vm-list,new-vm,vm-detail,api-keys}.png of the web
// app in Debian's Chromium, against a portal on an in-memory database filled with a small example.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ensureWebBuilt, launchChromium } from '../test/browser/browser.js';
import { PASSWORD, buildTestApp } from '../test/helpers.js';
import { insertProject, upsertMembership } from '../src/server/modules/projects/projects.repository.js';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));

async function main(): Promise<void> {
  if (ensureWebBuilt()) console.log('built web/dist');
  mkdirSync(OUT, { recursive: true });
  const t = await buildTestApp({ DATABASE_URL: ':memory:' });
  const browser = await launchChromium();
  try {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;

    // An example world: alice in two projects, with a few VMs, a volume and an API key.
    const alice = await t.factory.user({ name: 'alice' });
    const db = t.ctx.db.kysely;
    const now = new Date().toISOString();
    const genomics = await insertProject(db, { name: 'genomics-lab', quota: { vms: 10, cores: 32, ram_gb: 64, volumes: 10, volume_gb: 500 }, createdAt: now });
    const teaching = await insertProject(db, { name: 'teaching', quota: { vms: 4, cores: 8, ram_gb: 16, volumes: 4, volume_gb: 100 }, createdAt: now });
    await upsertMembership(db, genomics.id, alice.id, 'admin');
    await upsertMembership(db, teaching.id, alice.id, 'member');
    // An SSH key on alice's profile, which every VM she creates gets.
    const key = await t.http.post('/api/profile/ssh-keys/', { as: alice.session, body: { name: 'laptop', generate: true } });
    if (key.statusCode !== 201) throw new Error(`SSH key: ${key.body}`);
    const volumeOf = async (project: number, name: string, storage: number) => {
      const res = await t.http.post('/api/volumes/', { as: alice.session, body: { project_id: project, name, storage } });
      if (res.statusCode !== 201) throw new Error(`volume ${name}: ${res.body}`);
      return t.factory.waitFor(alice, `/api/volumes/${res.data.openstack_id}/`, (d) => d.status === 'available');
    };
    const vm = async (name: string, project: number, image: string, flavor: string, more: Record<string, unknown> = {}) => {
      const res = await t.http.post('/api/vms/', { as: alice.session, body: { project_id: project, image_name: image, flavor_name: flavor, vm_name: name, ...more } });
      if (res.statusCode !== 201) throw new Error(`VM ${name}: ${res.body}`);
      return t.factory.waitFor(alice, `/api/vms/${res.data.openstack_id}/`, (d) => d.status === 'ACTIVE');
    };
    const web = await vm('assembly-01', genomics.id, 'Ubuntu-24.04', 'de.NBI large');
    await vm('assembly-02', genomics.id, 'Ubuntu-24.04', 'de.NBI medium');
    const stopped = await vm('jupyter', genomics.id, 'Debian-12', 'de.NBI small');
    await vm('course-vm', teaching.id, 'Ubuntu-22.04', 'de.NBI tiny');
    await t.http.post(`/api/vms/${stopped.openstack_id}/action/`, { as: alice.session, body: { os_action: 'stop' } });
    await t.factory.waitFor(alice, `/api/vms/${stopped.openstack_id}/`, (d) => d.status === 'SHUTOFF');
    const volume = await volumeOf(genomics.id, 'reads', 200);
    await t.http.post(`/api/volumes/${volume.openstack_id}/action/`, { as: alice.session, body: { os_action: 'attach', vm_openstack_id: web.openstack_id } });
    // A VM with RStudio and a volume mounted at launch, for its page; another volume for the New VM form to offer.
    const results = await volumeOf(genomics.id, 'results', 50);
    const rstudio = await vm('rstudio-01', genomics.id, 'Ubuntu-24.04-RStudio', 'de.NBI medium', {
      research_environment_backend: { template: 'rstudio' },
      volumes: [{ openstack_id: results.openstack_id, path: '/vol/results' }],
      additional_script: 'sudo apt-get install -y htop\n',
    });
    await volumeOf(genomics.id, 'scratch', 100);
    await t.factory.key(alice, { name: 'nightly pipeline', scopes: ['vm:read', 'vm:change_state'], project_id: genomics.id });

    const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 760 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto('/vms');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('tr[data-vm="jupyter"]').waitFor();
    await page.screenshot({ path: `${OUT}vm-list.png`, fullPage: true });

    await page.getByRole('link', { name: 'New VM' }).click();
    await page.getByLabel('Project', { exact: true }).selectOption({ label: 'genomics-lab' });
    await page.getByText('Quota left in genomics-lab').waitFor();
    await page.getByLabel('Research environment').selectOption({ label: 'RStudio' });
    await page.getByLabel('Flavor').selectOption('de.NBI medium');
    await page.getByLabel('Name', { exact: true }).fill('assembly-03');
    await page.getByLabel('Attach scratch (100 GB)').check();
    await page.getByLabel('Mount path for scratch').fill('/vol/scratch');
    await page.getByLabel('First-boot script').fill('#!/bin/bash\nsudo apt-get install -y samtools\n');
    await page.screenshot({ path: `${OUT}new-vm.png`, fullPage: true });

    await page.goto(`/vms/${rstudio.openstack_id}`);
    await page.getByTestId('ssh-command').waitFor();
    await page.locator('tr[data-volume="results"]').waitFor();
    await page.getByRole('button', { name: 'Copy ssh command' }).focus();
    await page.screenshot({ path: `${OUT}vm-detail.png`, fullPage: true });

    await page.getByRole('link', { name: 'Profile', exact: true }).click();
    // The profile has an SSH keys section with a Name field too: the API keys section's own.
    const apiKeys = page.getByRole('region', { name: 'API keys BETA' });
    await apiKeys.getByRole('button', { name: 'Generate new API key' }).click();
    await apiKeys.getByLabel('Name', { exact: true }).fill('laptop scripts');
    await apiKeys.getByLabel('vm:read', { exact: true }).check();
    await apiKeys.getByLabel('volume:read', { exact: true }).check();
    await apiKeys.getByLabel('30 days').check();
    await apiKeys.getByRole('button', { name: 'Generate', exact: true }).click();
    await page.getByRole('textbox', { name: 'New API key', exact: true }).waitFor();
    await page.getByRole('textbox', { name: 'New API key', exact: true }).blur();
    await page.screenshot({ path: `${OUT}api-keys.png`, fullPage: true });
    await context.close();
    console.log(`wrote ${OUT}vm-list.png, new-vm.png, vm-detail.png and api-keys.png`);
  } finally {
    await browser.close();
    await t.close();
  }
}

await main();
