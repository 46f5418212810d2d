// A VM that says when its setup is done (spec §10): conda packages and the first-boot script in the
// user data (parsed as YAML, its shell parts checked by `bash -n`), the per-VM token, the report
// route and its refusals, the log, `unknown` after the timeout, and the simulated first boot that
// reports through the same route.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SimulatedProvider } from '../src/server/cloud/simulated/simulated.provider.js';
import { type TestPortal, type TestUser, buildTestApp, sleep, unique } from './helpers.js';
import { tempDir } from './process.js';

const tmp = tempDir('simplevm-vm-setup-');
let t: TestPortal;
let user: TestUser;
let project: { id: number };

beforeAll(async () => {
  // No simulated report for the VMs whose route is tested by hand: see `quiet`.
  t = await buildTestApp();
  user = await t.factory.user();
  project = await t.factory.project({ members: [user] });
}, 60_000);

afterAll(async () => {
  await t?.close();
  tmp.remove();
});

interface WrittenFile {
  path: string;
  content: string;
  permissions: string;
}

async function userDataOf(portal: TestPortal, id: string) {
  for (let i = 0; i < 300; i++) {
    const boot = await (portal.ctx.cloud as SimulatedProvider).serverBoot(id);
    if (boot) {
      const doc = parse(boot.userData) as { write_files?: WrittenFile[]; runcmd?: string[][] };
      return { text: boot.userData, doc, files: Object.fromEntries((doc.write_files ?? []).map((f) => [f.path, f])) };
    }
    await sleep(10);
  }
  throw new Error(`no simulated server ${id}`);
}

/** `bash -n`: the shell script parses. */
function bashParses(script: string): void {
  const file = path.join(tmp.dir, unique('script'));
  writeFileSync(file, script);
  execFileSync('bash', ['-n', file]);
}

const create = (portal: TestPortal, u: TestUser, projectId: number, body: Record<string, unknown>, form = false) =>
  portal.http.post('/api/vms/', { as: u.session, form, body: { project_id: projectId, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: unique('vm'), ...body } });

describe('conda packages and the setup script in the user data', () => {
  it('installs Miniforge and the packages into denbi before the script, all in one reported setup', async () => {
    const res = await create(t, user, project.id, { conda_packages: ['samtools=1.21', 'bwa', 'r-base=4.4.1'], additional_script: 'echo hi' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.data.conda_packages).toEqual([{ name: 'samtools', version: '1.21' }, { name: 'bwa', version: null }, { name: 'r-base', version: '4.4.1' }]);
    expect(res.data.setup).toMatchObject({ state: 'pending', exit_code: null });
    expect(res.data).toMatchObject({ playbook_done: false, playbook_successful: false });

    const { doc, files, text } = await userDataOf(t, res.data.openstack_id);
    expect(doc.runcmd).toEqual([['/var/lib/simplevm/setup.sh']]);
    const conda = files['/var/lib/simplevm/conda-setup.sh'];
    expect(conda.content).toContain("create -y -n denbi --override-channels -c bioconda -c conda-forge 'samtools=1.21' 'bwa' 'r-base=4.4.1'");
    expect(conda.content).toContain('Miniforge3');
    const setup = files['/var/lib/simplevm/setup.sh'];
    expect(setup.permissions).toBe('0700');
    // conda before the script, both as the login user.
    expect(setup.content.indexOf('conda-setup.sh')).toBeLessThan(setup.content.indexOf('additional-script.sh'));
    expect(setup.content).toContain("su - 'ubuntu' -c '/var/lib/simplevm/conda-setup.sh'");
    for (const f of Object.values(files)) if (f.content.startsWith('#!/bin/bash') || f.content.startsWith('#!/bin/sh')) bashParses(f.content);
    // The token is in the user data once; the database keeps only its digest.
    const token = /^TOKEN='([A-Za-z0-9_-]+)'$/m.exec(setup.content)?.[1] ?? '';
    expect(token.length).toBeGreaterThanOrEqual(43);
    const row = await t.ctx.db.kysely.selectFrom('vms').select(['setup_token_digest']).where('openstack_id', '=', res.data.openstack_id).executeTakeFirstOrThrow();
    expect(row.setup_token_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await t.ctx.db.kysely.selectFrom('vms').selectAll().where('openstack_id', '=', res.data.openstack_id).execute())).not.toContain(token);
    expect(text.split(token)).toHaveLength(2);
  });

  it('takes conda_packages as repeated form fields, and refuses bad names, too many and doubles', async () => {
    const res = await create(t, user, project.id, { conda_packages: ['fastqc=0.12.1', 'multiqc'] }, true);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.data.conda_packages).toEqual([{ name: 'fastqc', version: '0.12.1' }, { name: 'multiqc', version: null }]);
    for (const bad of [['samtools; rm -rf /'], ['sam tools'], ['samtools=1.21=x'], ['samtools', 'SAMtools'], Array.from({ length: 51 }, (_, i) => `p${i}`)]) {
      const refused = await create(t, user, project.id, { conda_packages: bad });
      expect(refused.statusCode, JSON.stringify(bad).slice(0, 60)).toBe(400);
      expect(Object.keys(refused.data.errors)).toEqual(['conda_packages']);
    }
  });

  it('has no setup when nothing runs at first boot', async () => {
    const loner = await t.factory.user();
    const own = await t.factory.project({ members: [loner] });
    const res = await create(t, loner, own.id, {});
    expect(res.data).toMatchObject({ setup: null, playbook_done: false, playbook_successful: false, conda_packages: [] });
    const log = await t.http.get(`/api/vms/${res.data.openstack_id}/setup/log/`, { as: loner.session });
    expect({ status: log.statusCode, body: log.body }).toEqual({ status: 200, body: '' });
  });
});

describe('the simulated first boot', () => {
  it('reports done through the route a moment after ACTIVE; the log is kept; an `exit 1` script fails', async () => {
    const ok = await create(t, user, project.id, { additional_script: 'echo fine' });
    const done = await t.factory.waitFor(user, `/api/vms/${ok.data.openstack_id}/`, (d) => d.setup?.state === 'done');
    expect(done).toMatchObject({ status: 'ACTIVE', setup: { state: 'done', exit_code: 0 }, playbook_done: true, playbook_successful: true });
    const log = await t.http.get(`/api/vms/${ok.data.openstack_id}/setup/log/`, { as: user.session });
    expect(log.statusCode).toBe(200);
    expect(log.headers['content-type']).toMatch(/^text\/plain/);
    expect(log.body).toContain('setup done');

    const bad = await create(t, user, project.id, { additional_script: 'echo about to fail\nexit 1\n' });
    const failed = await t.factory.waitFor(user, `/api/vms/${bad.data.openstack_id}/`, (d) => d.setup?.state === 'failed');
    expect(failed).toMatchObject({ setup: { state: 'failed', exit_code: 1 }, playbook_done: true, playbook_successful: false });

    // Each report is in the audit log, without an actor, for the VM's owner.
    const events = await t.http.get(`/api/audit/?action=vm.setup_report`, { as: user.session });
    expect(events.data.results.filter((e: { object_id: string }) => e.object_id === ok.data.openstack_id)).toHaveLength(2);
  });
});

describe('the report route', () => {
  /** A portal whose simulated cloud never reports (the route is driven by hand). */
  async function quiet(): Promise<{ portal: TestPortal; u: TestUser; vm: string; token: string }> {
    const portal = await buildTestApp();
    (portal.ctx.cloud as SimulatedProvider).reportSetupWith(async () => 0);
    const u = await portal.factory.user();
    const p = await portal.factory.project({ members: [u] });
    const res = await create(portal, u, p.id, { additional_script: 'echo x' });
    const { files } = await userDataOf(portal, res.data.openstack_id);
    const token = /^TOKEN='([A-Za-z0-9_-]+)'$/m.exec(files['/var/lib/simplevm/setup.sh'].content)?.[1] ?? '';
    return { portal, u, vm: res.data.openstack_id, token };
  }

  const post = (portal: TestPortal, vm: string, token: string | null, body: unknown, headers: Record<string, string> = {}) =>
    portal.http.post(`/api/vms/${vm}/setup/`, { body, headers: { ...(token === null ? {} : { 'x-setup-token': token }), ...headers } });

  it('takes each phase once, with the VM\'s own token, only while ACTIVE; refusals change nothing', async () => {
    const { portal, u, vm, token } = await quiet();
    try {
      const state = async () => (await portal.http.get(`/api/vms/${vm}/`, { as: u.session })).data.setup;
      // Not ACTIVE yet (or just now): 409 or fine; wait for ACTIVE first to be sure.
      await portal.factory.waitFor(u, `/api/vms/${vm}/`, (d) => d.status === 'ACTIVE');
      expect((await post(portal, vm, null, { phase: 'running' })).statusCode).toBe(404);
      expect((await post(portal, vm, 'x'.repeat(43), { phase: 'running' })).statusCode).toBe(404);
      expect((await post(portal, vm, `${token}x`, { phase: 'running' })).statusCode).toBe(404);
      // A key or a session is no token.
      const key = await portal.factory.key(u);
      expect((await portal.http.post(`/api/vms/${vm}/setup/`, { as: { key: key.key }, body: { phase: 'running' } })).statusCode).toBe(404);
      expect((await portal.http.post(`/api/vms/${vm}/setup/`, { as: u.session, body: { phase: 'running' } })).statusCode).toBe(404);
      expect((await state()).state).toBe('pending');

      const running = await post(portal, vm, token, { phase: 'running' });
      expect(running.statusCode, running.body).toBe(200);
      expect(running.data).toMatchObject({ state: 'running', exit_code: null });
      expect((await post(portal, vm, token, { phase: 'running' })).statusCode).toBe(409);
      // Too large a log, or an unknown field: 400, nothing changed.
      expect((await post(portal, vm, token, { phase: 'done', log: 'x'.repeat(64 * 1024 + 1) })).statusCode).toBe(400);
      expect((await post(portal, vm, token, { phase: 'done', verdict: 'great' })).statusCode).toBe(400);
      expect((await state()).state).toBe('running');

      const finished = await post(portal, vm, token, { phase: 'done', exit_code: 0, log: 'all good\n' });
      expect(finished.data).toMatchObject({ state: 'done', exit_code: 0 });
      for (const phase of ['running', 'done', 'failed']) expect((await post(portal, vm, token, { phase })).statusCode).toBe(409);
      expect((await portal.http.get(`/api/vms/${vm}/setup/log/`, { as: u.session })).body).toBe('all good\n');

      // Another VM's token does nothing here; and the log is the owner's to read, not another user's.
      const other = await quiet();
      try {
        await other.portal.factory.waitFor(other.u, `/api/vms/${other.vm}/`, (d) => d.status === 'ACTIVE');
        expect((await post(portal, vm, other.token, { phase: 'failed' })).statusCode).toBe(404);
      } finally {
        await other.portal.close();
      }
      const stranger = await portal.factory.user();
      expect((await portal.http.get(`/api/vms/${vm}/setup/log/`, { as: stranger.session })).statusCode).toBe(404);
    } finally {
      await portal.close();
    }
  });

  it('refuses reports while the VM is not ACTIVE, and says unknown once the timeout has passed', async () => {
    const { portal, u, vm, token } = await quiet();
    try {
      await portal.factory.waitFor(u, `/api/vms/${vm}/`, (d) => d.status === 'ACTIVE');
      await portal.http.post(`/api/vms/${vm}/action/`, { as: u.session, body: { os_action: 'stop' } });
      await portal.factory.waitFor(u, `/api/vms/${vm}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
      expect((await post(portal, vm, token, { phase: 'running' })).statusCode).toBe(409);
      // ACTIVE an hour and more ago, no report: unknown.
      await portal.ctx.db.kysely.updateTable('vms').set({ active_at: new Date(Date.now() - 3601_000).toISOString(), updated_at: new Date().toISOString() }).where('openstack_id', '=', vm).execute();
      const shown = await portal.factory.waitFor(u, `/api/vms/${vm}/`, (d) => d.setup?.state === 'unknown');
      expect(shown).toMatchObject({ setup: { state: 'unknown' }, playbook_done: false });
    } finally {
      await portal.close();
    }
  });
});
