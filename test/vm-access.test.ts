// A VM its user can get into (spec §8, §9): the creator's public keys (and, with member_access, the
// members'), the first-boot script, the research environment and the launch volumes all reach the
// VM in one cloud-init document; every VM says how to connect; and a POST field a route does not
// know is refused, never dropped.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SimulatedProvider } from '../src/server/cloud/simulated/simulated.provider.js';
import { volumeDevice } from '../src/server/modules/vms/vms.user-data.js';
import { type TestPortal, type TestUser, buildTestApp, sleep, unique } from './helpers.js';
import { tempDir } from './process.js';

const tmp = tempDir('simplevm-vm-access-');
afterAll(() => tmp.remove());

/** A key pair made by Debian's ssh-keygen; returns the public line and its `ssh-keygen -l` fingerprint. */
function sshKeygen(type: 'ed25519' | 'ecdsa' | 'rsa', comment: string): { line: string; fingerprint: string } {
  const file = path.join(tmp.dir, unique('key'));
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', comment, '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1];
  return { line, fingerprint };
}

let t: TestPortal;
let owner: TestUser;
let member: TestUser;
let project: { id: number };
const ownerKey = sshKeygen('ed25519', 'owner@laptop');
const memberKey = sshKeygen('ecdsa', 'member@laptop');

/** What the simulated cloud got for the server, once the worker has asked it. */
async function bootOf(id: string, portal = () => t) {
  for (let i = 0; i < 300; i++) {
    const boot = await (portal().ctx.cloud as SimulatedProvider).serverBoot(id);
    if (boot) return { ...boot, doc: parse(boot.userData) as Record<string, any> };
    await sleep(10);
  }
  throw new Error(`no simulated server ${id}`);
}

beforeAll(async () => {
  t = await buildTestApp();
  owner = await t.factory.user();
  member = await t.factory.user();
  project = await t.factory.project({ members: [owner, member] });
  for (const [user, key] of [[owner, ownerKey], [member, memberKey]] as const) {
    const res = await t.http.post('/api/profile/ssh-keys/', { as: user.session, body: { name: 'laptop', public_key: key.line } });
    expect(res.statusCode, res.body).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const create = (body: Record<string, unknown>, form = false) =>
  t.http.post('/api/vms/', {
    as: owner.session,
    form,
    body: { project_id: project.id, image_name: 'Ubuntu-24.04', flavor_name: 'de.NBI tiny', vm_name: unique('vm'), ...body },
  });

describe('creating a VM with keys, a script, an environment and volumes', () => {
  it('puts the creator\'s keys, the script, the environment and the mounts into one #cloud-config document', async () => {
    const volume = await t.factory.volume(owner, project.id);
    const script = '#!/bin/sh\necho "hello from first boot" > /tmp/first-boot\n';
    const res = await create({
      additional_script: script,
      research_environment_backend: { template: 'rstudio', user_path: 'mypath', create_only: true },
      volumes: [{ openstack_id: volume.openstack_id, path: '/vol/data' }],
    });
    expect(res.statusCode, res.body).toBe(201);
    const vm = res.data;
    expect(vm).toMatchObject({ status: 'BUILD', ssh_keys: [ownerKey.fingerprint], research_environment: 'rstudio', access: null });
    // SimpleVM's names (spec §10) before it runs.
    expect(vm).toMatchObject({ uuid: vm.openstack_id, vm_state: 'building', ssh_command: null, res_env_url: null, userlogin: null, modes: [] });
    // Reserved for the VM at once: nothing else may take it meanwhile.
    expect((await t.http.get(`/api/volumes/${volume.openstack_id}/`, { as: owner.session })).data.status).toBe('attaching');

    const { userData, keys, doc } = await bootOf(vm.openstack_id);
    expect(userData.split('\n')[0]).toBe('#cloud-config');
    expect(keys).toEqual([ownerKey.fingerprint]);
    expect(doc.ssh_authorized_keys).toEqual([expect.stringMatching(new RegExp(`^${ownerKey.line.split(' ').slice(0, 2).join(' ').replace(/[+/]/g, '\\$&')}`))]);
    const files = Object.fromEntries((doc.write_files as { path: string; content: string; permissions: string }[]).map((f) => [f.path, f]));
    expect(files['/var/lib/simplevm/additional-script.sh']).toMatchObject({ content: script, permissions: '0755' });
    expect(JSON.parse(files['/etc/simplevm/research-environment.json'].content)).toEqual({ template: 'rstudio', port: 8787, user_path: '/mypath/', create_only: true });
    expect(doc.mounts).toEqual([[volumeDevice(volume.openstack_id), '/vol/data', 'ext4', 'defaults,nofail', '0', '2']]);
    // One setup script runs the steps (spec §10): the volumes first, the script last as the login
    // user; create_only installs nothing.
    expect(doc.runcmd).toEqual([['/var/lib/simplevm/setup.sh']]);
    const setup = files['/var/lib/simplevm/setup.sh'].content;
    expect(setup.indexOf('/var/lib/simplevm/mount-volumes.sh')).toBeLessThan(setup.indexOf("su - 'ubuntu' -c '/var/lib/simplevm/additional-script.sh'"));
    expect(setup).not.toContain('simplevm-resenv-setup');

    // ACTIVE: the volume is attached and in use, and the VM says how to connect.
    const active = await t.factory.waitFor(owner, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'ACTIVE');
    expect(active.access).toEqual({
      ssh: { user: 'ubuntu', host: active.fixed_ip, port: 22, command: `ssh -i ~/.ssh/id_ed25519 ubuntu@${active.fixed_ip}` },
      research_environment: { template: 'rstudio', url: `/resenv/${vm.openstack_id}/` },
    });
    const ssh = `ssh -i ~/.ssh/id_ed25519 ubuntu@${active.fixed_ip}`;
    const url = `/resenv/${vm.openstack_id}/`;
    expect(active).toMatchObject({
      uuid: vm.openstack_id, vm_state: 'active', task_state: null, ssh_command: ssh, res_env_url: url, userlogin: 'ubuntu',
      modes: [{ name: 'ssh', description: 'SSH', copy_field: ssh }, { name: 'rstudio', description: 'RStudio', copy_field: url }],
    });
    // The same in the list, and in SimpleVM's state names while stopped.
    const listed = (await t.http.get(`/api/vms/?openstack_id=${vm.openstack_id}`, { as: owner.session })).data.results[0];
    expect(listed.modes).toEqual(active.modes);
    const attached = await t.factory.waitFor(owner, `/api/volumes/${volume.openstack_id}/`, (d) => d.status === 'in-use');
    expect(attached.attached_to).toBe(vm.openstack_id);
    expect((await t.http.get(`/api/vms/${vm.openstack_id}/`, { as: owner.session })).data.volumes).toEqual([volume.openstack_id]);
  });

  it('takes SimpleVM\'s form fields: dotted research_environment_backend.*, volume_ids with volume_paths', async () => {
    const [a, b] = [await t.factory.volume(owner, project.id), await t.factory.volume(owner, project.id)];
    const res = await create({
      'research_environment_backend.template': 'jupyterlab',
      'research_environment_backend.user_path': 'lab',
      'research_environment_backend.create_only': 'false',
      volume_ids: [a.openstack_id, b.openstack_id],
      volume_paths: ['/vol/a', '/vol/b'],
      additional_script: 'echo plain',
      member_access: 'true',
    }, true);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.data.research_environment).toBe('jupyterlab');
    // member_access: every member's keys, the creator's first.
    expect(res.data.ssh_keys).toEqual([ownerKey.fingerprint, memberKey.fingerprint]);
    const { doc } = await bootOf(res.data.openstack_id);
    expect(doc.ssh_authorized_keys).toHaveLength(2);
    expect(doc.mounts.map((m: string[]) => m[1])).toEqual(['/vol/a', '/vol/b']);
    const files = Object.fromEntries((doc.write_files as { path: string; content: string }[]).map((f) => [f.path, f.content]));
    // A script without #! runs with bash; without create_only the image's installer runs.
    expect(files['/var/lib/simplevm/additional-script.sh']).toBe('#!/bin/bash\necho plain\n');
    expect(JSON.parse(files['/etc/simplevm/research-environment.json'].trim())).toMatchObject({ template: 'jupyterlab', port: 8888, user_path: '/lab/', create_only: false });
    expect(files['/var/lib/simplevm/setup.sh']).toContain('simplevm-resenv-setup');
  });

  it('takes a first-boot script of a full 64 KiB (scripts compress; the cloud gets it gzip-compressed)', async () => {
    const script = `#!/bin/bash\n${'echo "line of a long setup script"\n'.repeat(2000)}`.slice(0, 64 * 1024);
    const res = await create({ additional_script: script });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(201);
    const { doc } = await bootOf(res.data.openstack_id);
    const file = (doc.write_files as { path: string; content: string }[]).find((f) => f.path === '/var/lib/simplevm/additional-script.sh');
    expect(file?.content.startsWith(script)).toBe(true);
  });

  it('without keys or extras, sends an empty #cloud-config and shows no keys', async () => {
    const loner = await t.factory.user();
    const own = await t.factory.project({ members: [loner] });
    const res = await t.http.post('/api/vms/', { as: loner.session, body: { project_id: own.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: unique('vm') } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.data).toMatchObject({ ssh_keys: [], research_environment: null });
    expect((await bootOf(res.data.openstack_id)).userData).toBe('#cloud-config\n{}\n');
  });

  it('refuses what cannot be honoured, naming the field, and changes nothing', async () => {
    const other = await t.factory.project({ members: [owner] });
    const foreign = await t.factory.volume(owner, other.id);
    const busy = await t.factory.volume(owner, project.id);
    const vm = await t.factory.vm(owner, project.id);
    await t.http.post(`/api/volumes/${busy.openstack_id}/action/`, { as: owner.session, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } });
    await t.factory.waitFor(owner, `/api/volumes/${busy.openstack_id}/`, (d) => d.status === 'in-use');
    const before = (await t.http.get(`/api/vms/?project_id=${project.id}`, { as: owner.session })).data.count;

    const cases: [Record<string, unknown>, string][] = [
      [{ additional_script: 'x'.repeat(64 * 1024 + 1) }, 'additional_script'],
      [{ additional_script: 'é'.repeat(40 * 1024) }, 'additional_script'],
      // 64 KiB that does not compress: more than Nova takes even gzip-compressed.
      [{ additional_script: randomBytes(48 * 1024).toString('base64').slice(0, 64 * 1024) }, 'additional_script'],
      [{ research_environment_backend: { template: 'no-such-thing' } }, 'research_environment_backend'],
      [{ research_environment_backend: { template: 'rstudio', user_path: 'a/../../etc' } }, 'research_environment_backend'],
      [{ research_environment_backend: { template: 'rstudio', colour: 'blue' } }, 'research_environment_backend.colour'],
      [{ volumes: [{ openstack_id: foreign.openstack_id, path: '/vol/x' }] }, 'volumes'],
      [{ volumes: [{ openstack_id: busy.openstack_id, path: '/vol/x' }] }, 'volumes'],
      [{ volumes: [{ openstack_id: 'no-such-volume', path: '/vol/x' }] }, 'volumes'],
      [{ volumes: [{ openstack_id: foreign.openstack_id, path: 'relative' }] }, 'volumes'],
      [{ volumes: [{ openstack_id: foreign.openstack_id, path: '//' }] }, 'volumes'],
      [{ volume_ids: [foreign.openstack_id, busy.openstack_id], volume_paths: ['/data/', '//data'] }, 'volumes'],
      [{ volume_ids: [busy.openstack_id], volume_paths: [] }, 'volume_paths'],
      [{ conda_forever: true, flavour: 'x' }, 'conda_forever'],
    ];
    for (const [body, field] of cases) {
      const res = await create(body);
      expect(res.statusCode, `${JSON.stringify(body).slice(0, 80)}: ${res.body}`).toBe(400);
      expect(res.data.code).toBe('invalid');
      expect(Object.keys(res.data.errors), res.body).toContain(field);
    }
    // Both unknown fields are named, not only the first.
    expect(Object.keys((await create({ conda_forever: true, flavour: 'x' })).data.errors).sort()).toEqual(['conda_forever', 'flavour']);
    expect((await t.http.get(`/api/vms/?project_id=${project.id}`, { as: owner.session })).data.count).toBe(before);
    expect((await t.http.get(`/api/volumes/${foreign.openstack_id}/`, { as: owner.session })).data.status).toBe('available');
  });

  it('gives the launch volumes back when the VM cannot be made', async () => {
    // Slow transitions, so that the server can be lost while it builds.
    const slow = await buildTestApp({ SIMPLEVM_SIM_DELAY_MS: '1500' });
    try {
      const u = await slow.factory.user();
      const p = await slow.factory.project({ members: [u] });
      const volume = await slow.factory.volume(u, p.id);
      const res = await slow.http.post('/api/vms/', {
        as: u.session, body: { project_id: p.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: 'lost', volumes: [{ openstack_id: volume.openstack_id, path: '/data' }] },
      });
      expect(res.statusCode, res.body).toBe(201);
      await bootOf(res.data.openstack_id, () => slow);
      await slow.ctx.db.kysely.deleteFrom('sim_resources').where('id', '=', res.data.openstack_id).execute();
      const vm = await slow.factory.waitFor(u, `/api/vms/${res.data.openstack_id}/`, (d) => d.task_state === null);
      expect(vm.status).toBe('DELETED');
      expect(await slow.factory.waitFor(u, `/api/volumes/${volume.openstack_id}/`, (d) => d.status === 'available')).toMatchObject({ attached_to: null });
    } finally {
      await slow.close();
    }
  });
});

describe('unknown body fields on every POST route', () => {
  it('are refused with 400 invalid naming them, and nothing changes', async () => {
    const vm = await t.factory.vm(owner, project.id);
    const volume = await t.factory.volume(owner, project.id);
    const posts: [string, Record<string, unknown>][] = [
      ['/api/keys/', { name: 'k', scopes: ['vm:read'] }],
      ['/api/volumes/', { project_id: project.id, name: unique('v'), storage: 1 }],
      [`/api/vms/${vm.openstack_id}/action/`, { os_action: 'reboot' }],
      [`/api/volumes/${volume.openstack_id}/action/`, { os_action: 'extend', size: 2 }],
      ['/api/snapshots/', { snapshot_instance: vm.openstack_id, snapshot_name: unique('s') }],
      ['/api/profile/ssh-keys/', { name: 'k2', generate: true }],
    ];
    for (const [url, body] of posts) {
      for (const form of [false, true]) {
        const res = await t.http.post(url, { as: owner.session, form, body: { ...body, surprise: 'x' } });
        expect(res.statusCode, `${url} ${form ? 'form' : 'json'}: ${res.body}`).toBe(400);
        expect(res.data).toMatchObject({ code: 'invalid', errors: { surprise: ['is not a field this request takes'] } });
      }
    }
    // Names that an object's prototype has are fields like any other.
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      const raw = await t.app.inject({
        method: 'POST', url: '/api/volumes/', headers: { cookie: owner.session.cookie, 'x-csrf-token': owner.session.csrf, 'content-type': 'application/json' },
        payload: `{"project_id": ${project.id}, "name": "v", "storage": 1, ${JSON.stringify(name)}: 1}`,
      });
      expect(raw.statusCode, `${name}: ${raw.body}`).toBe(400);
      expect(Object.keys(JSON.parse(raw.body).errors)).toEqual([name]);
    }
    const login = await t.http.post('/api/auth/login', { body: { username: owner.username, password: 'x', remember: true } });
    expect(login.statusCode).toBe(400);
    expect(Object.keys(login.data.errors)).toEqual(['remember']);
    expect((await t.http.get('/api/keys/', { as: owner.session })).data).toHaveLength(0);
    expect((await t.http.get(`/api/volumes/${volume.openstack_id}/`, { as: owner.session })).data.storage).toBe(1);
  });
});

describe('access through the site\'s SSH gateway', () => {
  it('gives SimpleVM\'s port (base + 256 × third + fourth octet) and the image\'s login user', async () => {
    const g = await buildTestApp({ SIMPLEVM_SSH_GATEWAY: 'gate.example.org', SIMPLEVM_SSH_PORT_BASE: '30000' });
    try {
      const u = await g.factory.user();
      const p = await g.factory.project({ members: [u] });
      const res = await g.http.post('/api/vms/', { as: u.session, body: { project_id: p.id, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: 'gw' } });
      const vm = await g.factory.waitFor(u, `/api/vms/${res.data.openstack_id}/`, (d) => d.status === 'ACTIVE');
      const [, , third, fourth] = vm.fixed_ip.split('.').map(Number);
      const port = 30000 + 256 * third + fourth;
      expect(vm.access.ssh).toEqual({ user: 'debian', host: 'gate.example.org', port, command: `ssh -i ~/.ssh/id_ed25519 -p ${port} debian@gate.example.org` });
      expect(vm.access.research_environment).toBeNull();
      await g.http.post(`/api/vms/${vm.openstack_id}/action/`, { as: u.session, body: { os_action: 'stop' } });
      const stopped = await g.factory.waitFor(u, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
      expect(stopped).toMatchObject({ vm_state: 'stopped', access: vm.access, userlogin: 'debian' });
      // Stopped, it keeps its access; listed, it shows the same.
      const list = await g.http.get(`/api/vms/?project_id=${p.id}`, { as: u.session });
      expect(list.data.results[0].access).toEqual(vm.access);
    } finally {
      await g.close();
    }
  });
});
