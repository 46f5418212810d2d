// One behaviour suite, three clouds (issues 6 and 20): the VM, volume, snapshot and catalog
// behaviour of the HTTP API, run against the simulated cloud and against the OpenStack provider
// talking to the fake OpenStack (test/fake-openstack/) in `npm test`, and against real OpenStack
// services (scripts/openstack-dev.sh) in `npm run test:openstack`. The same requests must give the
// same answers and the same end states on each; only the cloud behind the portal differs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenStack, startFakeOpenStack } from './fake-openstack/server.js';
import { type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';
import { CloudAdmin, REAL_OPENRC, realCloudEnv } from './real-openstack.js';

interface Cloud {
  env: Record<string, string>;
  fake: FakeOpenStack | null;
  /** The real cloud's admin, to look at what the portal made there. */
  real: CloudAdmin | null;
  close(): Promise<void>;
}

const REAL: { name: string; start: () => Promise<Cloud> } = {
  name: 'real OpenStack (scripts/openstack-dev.sh)',
  start: async () => ({ env: realCloudEnv(), fake: null, real: new CloudAdmin(), close: async () => {} }),
};

const PROVIDERS: { name: string; start: () => Promise<Cloud> }[] = REAL_OPENRC ? [REAL] : [
  { name: 'simulated', start: async () => ({ env: {}, fake: null, real: null, close: async () => {} }) },
  {
    name: 'openstack (fake OpenStack on 127.0.0.1)',
    start: async () => {
      const fake = await startFakeOpenStack({ delayMs: 40 });
      return { env: fake.env(), fake, real: null, close: () => fake.close() };
    },
  },
];

describe.each(PROVIDERS)('on the $name cloud', ({ start }) => {
  let cloud: Cloud;
  let t: TestPortal;
  beforeAll(async () => {
    cloud = await start();
    t = await buildTestApp(cloud.env);
    if (cloud.real) t.factory.waitMs = 60_000;
  });
  afterAll(async () => {
    await t?.close();
    await cloud?.close();
  });

  async function member(): Promise<{ user: TestUser; projectId: number }> {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    return { user, projectId: project.id };
  }

  describe('catalog', () => {
    it('offers the de.NBI flavors and the images with their tags', async () => {
      const { user, projectId } = await member();
      const flavors = (await t.http.get(`/api/projects/${projectId}/flavors/`, { as: user.session })).data;
      expect(flavors).toEqual(expect.arrayContaining([
        { name: 'de.NBI tiny', vcpus: 1, ram_gb: 2, disk_gb: 20 },
        { name: 'de.NBI large', vcpus: 8, ram_gb: 16, disk_gb: 20 },
      ]));
      const images = (await t.http.get(`/api/projects/${projectId}/images/`, { as: user.session })).data;
      expect(images).toEqual(expect.arrayContaining([
        { name: 'Ubuntu-22.04', tags: ['jammy', 'lts', 'ubuntu'], resenv_template_name: null },
        { name: 'Debian-12', tags: ['bookworm', 'debian'], resenv_template_name: null },
      ]));
      expect(new Set(images.map((i: { name: string }) => i.name)).size).toBe(images.length);
    });
  });

  describe('getting into a VM (spec §9)', () => {
    it('gives the VM its user\'s key and first-boot script, and says how to connect', async () => {
      const { user, projectId } = await member();
      const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop';
      const key = await t.http.post('/api/profile/ssh-keys/', { as: user.session, body: { name: 'laptop', public_key: line } });
      expect(key.statusCode, key.body).toBe(201);
      const created = await t.http.post('/api/vms/', {
        as: user.session, body: { project_id: projectId, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: 'keyed', additional_script: 'echo first boot' },
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.data.ssh_keys).toEqual([key.data.fingerprint]);
      const vm = await t.factory.waitFor(user, `/api/vms/${created.data.openstack_id}/`, (d) => d.status === 'ACTIVE');
      expect(vm.access.ssh).toEqual({ user: 'ubuntu', host: vm.fixed_ip, port: 22, command: `ssh -i ~/.ssh/id_ed25519 ubuntu@${vm.fixed_ip}` });
      // SimpleVM's names (spec §10), the same on either cloud; the setup waits for the VM's report.
      expect(vm).toMatchObject({ uuid: vm.openstack_id, vm_state: 'active', userlogin: 'ubuntu', modes: [{ name: 'ssh', copy_field: vm.access.ssh.command }] });
      expect(['pending', 'running', 'done']).toContain(vm.setup.state);
      if (cloud.fake) {
        // Nova got the key as a key pair of the portal's user, and the user data base64-encoded.
        const [server] = cloud.fake.serverTagged(vm.openstack_id);
        expect(server.keyName).toMatch(/^simplevm-[0-9a-f]{32}$/);
        expect([...cloud.fake.keypairs.values()].find((k) => k.name === server.keyName)?.publicKey).toBe(line);
        const userData = Buffer.from(server.userData ?? '', 'base64').toString('utf8');
        expect(userData.split('\n')[0]).toBe('#cloud-config');
        expect(userData).toContain('echo first boot');
        expect(userData).toContain(line);
      }
      if (cloud.real) {
        // The same, as the real Nova keeps it: the key pair is the portal user's (the application
        // credential's user), and the admin reads the user data back.
        const [server] = await cloud.real.serversTagged(vm.openstack_id);
        expect(server.key_name).toMatch(/^simplevm-[0-9a-f]{32}$/);
        const pair = await cloud.real.call('compute', 'GET', `/os-keypairs/${server.key_name}?user_id=${server.user_id}`);
        expect(pair.status).toBe(200);
        expect(pair.data.keypair.public_key).toBe(line);
        const userData = Buffer.from(server['OS-EXT-SRV-ATTR:user_data'] ?? '', 'base64').toString('utf8');
        expect(userData.split('\n')[0]).toBe('#cloud-config');
        expect(userData).toContain('echo first boot');
      }
    });
  });

  describe('VM lifecycle', () => {
    it('walks BUILD → ACTIVE → SHUTOFF → ACTIVE → (reboot HARD, SOFT) ACTIVE → DELETED', async () => {
      const { user, projectId } = await member();
      const as = user.session;
      const created = await t.http.post('/api/vms/', { as, body: { project_id: projectId, image_name: 'Debian-12', flavor_name: 'de.NBI small', vm_name: 'walker' } });
      expect(created.statusCode).toBe(201);
      expect(created.data).toMatchObject({ status: 'BUILD', task_state: 'spawning', fixed_ip: null, flavor_name: 'de.NBI small', image_name: 'Debian-12' });
      const url = `/api/vms/${created.data.openstack_id}/`;
      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'stop' } })).data.code).toBe('invalid_state');
      const active = await t.factory.waitFor(user, url, (d) => d.status === 'ACTIVE');
      expect(active.task_state).toBeNull();
      expect(active.fixed_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

      const stop = await t.http.post(`${url}action/`, { as, body: { os_action: 'stop' } });
      expect(stop.statusCode).toBe(202);
      expect(stop.data).toMatchObject({ status: 'ACTIVE', task_state: 'powering-off' });
      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'reboot' } })).data.code).toBe('invalid_state');
      await t.factory.waitFor(user, url, (d) => d.status === 'SHUTOFF' && d.task_state === null);
      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'stop' } })).data.code).toBe('invalid_state');

      const resume = await t.http.post(`${url}action/`, { as, body: { os_action: 'resume' } });
      expect(resume.statusCode).toBe(202);
      expect(resume.data.task_state).toBe('powering-on');
      await t.factory.waitFor(user, url, (d) => d.status === 'ACTIVE' && d.task_state === null);

      const hard = await t.http.post(`${url}action/`, { as, body: { os_action: 'reboot', reboot_type: 'HARD' } });
      expect(hard.data).toMatchObject({ status: 'HARD_REBOOT', task_state: 'rebooting_hard' });
      await t.factory.waitFor(user, url, (d) => d.status === 'ACTIVE' && d.task_state === null);
      const soft = await t.http.post(`${url}action/`, { as, body: { os_action: 'reboot' } });
      expect(soft.data).toMatchObject({ status: 'REBOOT', task_state: 'rebooting' });
      const rebooted = await t.factory.waitFor(user, url, (d) => d.status === 'ACTIVE' && d.task_state === null);
      expect(rebooted.fixed_ip).toBe(active.fixed_ip);

      const del = await t.http.delete(url, { as });
      expect(del.statusCode).toBe(202);
      expect(del.data.task_state).toBe('deleting');
      const gone = await t.factory.waitFor(user, url, (d) => d.status === 'DELETED');
      expect(gone).toMatchObject({ task_state: null, fault: null });
      expect((await t.http.delete(url, { as })).data.code).toBe('invalid_state');
      const deleted = await t.http.get(`/api/vms/?project_id=${projectId}&status=DELETED`, { as });
      expect(deleted.data.results.map((v: { openstack_id: string }) => v.openstack_id)).toEqual([created.data.openstack_id]);
    });

    it('deletes a stopped VM', async () => {
      const { user, projectId } = await member();
      const vm = await t.factory.vm(user, projectId);
      const url = `/api/vms/${vm.openstack_id}/`;
      expect((await t.http.post(`${url}action/`, { as: user.session, body: { os_action: 'stop' } })).statusCode).toBe(202);
      await t.factory.waitFor(user, url, (d) => d.status === 'SHUTOFF' && d.task_state === null);
      expect((await t.http.delete(url, { as: user.session })).statusCode).toBe(202);
      await t.factory.waitFor(user, url, (d) => d.status === 'DELETED' && d.task_state === null);
    });

    it('runs several VMs side by side, each to its own end', async () => {
      const { user, projectId } = await member();
      const vms = await Promise.all([1, 2, 3].map(() => t.factory.vm(user, projectId, { active: false })));
      const ready = await Promise.all(vms.map((vm) => t.factory.waitFor(user, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'ACTIVE')));
      expect(new Set(ready.map((v) => v.fixed_ip)).size).toBe(3);
      await t.http.post(`/api/vms/${vms[0].openstack_id}/action/`, { as: user.session, body: { os_action: 'stop' } });
      await t.http.delete(`/api/vms/${vms[1].openstack_id}/`, { as: user.session });
      await t.factory.waitFor(user, `/api/vms/${vms[0].openstack_id}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
      await t.factory.waitFor(user, `/api/vms/${vms[1].openstack_id}/`, (d) => d.status === 'DELETED');
      expect((await t.http.get(`/api/vms/${vms[2].openstack_id}/`, { as: user.session })).data).toMatchObject({ status: 'ACTIVE', task_state: null });
    });
  });

  describe('volume lifecycle', () => {
    it('attaches, detaches, extends and deletes; deleting a VM frees its volumes', async () => {
      const { user, projectId } = await member();
      const as = user.session;
      const vm = await t.factory.vm(user, projectId);
      const created = await t.http.post('/api/volumes/', { as, body: { project_id: projectId, name: unique('vol'), storage: 2 } });
      expect(created.statusCode).toBe(201);
      expect(created.data).toMatchObject({ status: 'creating', storage: 2, attached_to: null });
      const url = `/api/volumes/${created.data.openstack_id}/`;
      await t.factory.waitFor(user, url, (d) => d.status === 'available');

      const attach = await t.http.post(`${url}action/`, { as, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } });
      expect(attach.statusCode).toBe(202);
      expect(attach.data.status).toBe('attaching');
      const attached = await t.factory.waitFor(user, url, (d) => d.status === 'in-use');
      // The device is Nova's name for it: /dev/vdb on KVM (the simulated cloud and the fake), /dev/sdb
      // on Nova's fake hypervisor.
      expect(attached).toMatchObject({ attached_to: vm.openstack_id, device: cloud.real ? '/dev/sdb' : '/dev/vdb' });
      expect((await t.http.get(`/api/vms/${vm.openstack_id}/`, { as })).data.volumes).toEqual([created.data.openstack_id]);
      expect((await t.http.delete(url, { as })).data.code).toBe('invalid_state');

      // An in-use volume can grow too.
      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'extend', size: 3 } })).statusCode).toBe(202);
      await t.factory.waitFor(user, url, (d) => d.status === 'in-use' && d.storage === 3);

      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'detach' } })).statusCode).toBe(202);
      await t.factory.waitFor(user, url, (d) => d.status === 'available' && d.attached_to === null && d.device === null);

      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'extend', size: 3 } })).data.code).toBe('invalid');
      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'extend', size: 5 } })).statusCode).toBe(202);
      await t.factory.waitFor(user, url, (d) => d.status === 'available' && d.storage === 5);

      expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } })).statusCode).toBe(202);
      await t.factory.waitFor(user, url, (d) => d.status === 'in-use');
      expect((await t.http.delete(`/api/vms/${vm.openstack_id}/`, { as })).statusCode).toBe(202);
      await t.factory.waitFor(user, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'DELETED');
      expect((await t.http.get(url, { as })).data).toMatchObject({ status: 'available', attached_to: null, device: null });

      expect((await t.http.delete(url, { as })).statusCode).toBe(202);
      const end = Date.now() + 10_000;
      let status = 200;
      while (Date.now() < end && status === 200) {
        status = (await t.http.get(url, { as })).statusCode;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(404);
    });

    it('gives a second volume on the same VM the next device', async () => {
      const { user, projectId } = await member();
      const as = user.session;
      const vm = await t.factory.vm(user, projectId);
      const [a, b] = await Promise.all([t.factory.volume(user, projectId), t.factory.volume(user, projectId)]);
      await t.http.post(`/api/volumes/${a.openstack_id}/action/`, { as, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } });
      await t.factory.waitFor(user, `/api/volumes/${a.openstack_id}/`, (d) => d.status === 'in-use');
      await t.http.post(`/api/volumes/${b.openstack_id}/action/`, { as, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } });
      const second = await t.factory.waitFor(user, `/api/volumes/${b.openstack_id}/`, (d) => d.status === 'in-use');
      expect(second).toMatchObject({ attached_to: vm.openstack_id, device: cloud.real ? '/dev/sdc' : '/dev/vdc' });
      expect([...(await t.http.get(`/api/vms/${vm.openstack_id}/`, { as })).data.volumes].sort()).toEqual([a.openstack_id, b.openstack_id].sort());
    });
  });

  describe('snapshots', () => {
    it('snapshots a VM into an image of its own project, which new VMs there boot from', async () => {
      const { user, projectId } = await member();
      const as = user.session;
      const vm = await t.factory.vm(user, projectId);
      const name = unique('snap');
      const snap = await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: vm.openstack_id, snapshot_name: name, description: 'before the upgrade' } });
      expect(snap.statusCode).toBe(202);
      expect(snap.data).toMatchObject({ name, status: 'queued' });
      await t.factory.waitFor(user, `/api/projects/${projectId}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
        list.some((s) => s.openstack_id === snap.data.openstack_id && s.status === 'active'));
      const images = (await t.http.get(`/api/projects/${projectId}/images/`, { as })).data.map((i: { name: string }) => i.name);
      expect(images).toContain(name);

      const fromSnap = await t.http.post('/api/vms/', { as, body: { project_id: projectId, image_name: name, flavor_name: 'de.NBI tiny', vm_name: 'restored' } });
      expect(fromSnap.statusCode).toBe(201);
      await t.factory.waitFor(user, `/api/vms/${fromSnap.data.openstack_id}/`, (d) => d.status === 'ACTIVE' && d.image_name === name);

      // Another project cannot boot from it.
      const other = await member();
      const foreign = await t.http.post('/api/vms/', { as: other.user.session, body: { project_id: other.projectId, image_name: name, flavor_name: 'de.NBI tiny', vm_name: 'thief' } });
      expect(foreign.statusCode).toBe(400);
      expect(foreign.data.code).toBe('invalid');
    });

    it('snapshots a stopped VM, which stays stopped', async () => {
      const { user, projectId } = await member();
      const as = user.session;
      const vm = await t.factory.vm(user, projectId);
      await t.http.post(`/api/vms/${vm.openstack_id}/action/`, { as, body: { os_action: 'stop' } });
      await t.factory.waitFor(user, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
      const snap = await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: vm.openstack_id, snapshot_name: unique('snap') } });
      expect(snap.statusCode).toBe(202);
      await t.factory.waitFor(user, `/api/projects/${projectId}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
        list.some((s) => s.openstack_id === snap.data.openstack_id && s.status === 'active'));
      expect((await t.http.get(`/api/vms/${vm.openstack_id}/`, { as })).data).toMatchObject({ status: 'SHUTOFF', task_state: null });
    });

    it('deletes a snapshot: 204, gone from its project at once, its image from the cloud; the VM made from it runs on', async () => {
      const { user, projectId } = await member();
      const as = user.session;
      const vm = await t.factory.vm(user, projectId);
      const name = unique('snap');
      const snap = await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: vm.openstack_id, snapshot_name: name } });
      expect(snap.statusCode).toBe(202);
      const id = snap.data.openstack_id as string;
      await t.factory.waitFor(user, `/api/projects/${projectId}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
        list.some((s) => s.openstack_id === id && s.status === 'active'));
      const restored = await t.http.post('/api/vms/', { as, body: { project_id: projectId, image_name: name, flavor_name: 'de.NBI tiny', vm_name: 'restored' } });
      expect(restored.statusCode).toBe(201);
      const restoredUrl = `/api/vms/${restored.data.openstack_id}/`;
      await t.factory.waitFor(user, restoredUrl, (d) => d.status === 'ACTIVE');

      const del = await t.http.delete(`/api/snapshots/${id}/`, { as });
      expect(del.statusCode, del.body).toBe(204);
      expect((await t.http.get(`/api/projects/${projectId}/images/`, { as })).data.map((i: { name: string }) => i.name)).not.toContain(name);
      expect((await t.http.get(`/api/projects/${projectId}/snapshots/`, { as })).data.map((s: { openstack_id: string }) => s.openstack_id)).not.toContain(id);

      const until = Date.now() + 10_000;
      while (await t.ctx.db.kysely.selectFrom('snapshots').select('status').where('openstack_id', '=', id).executeTakeFirst()) {
        if (Date.now() > until) throw new Error('the snapshot was not deleted');
        await new Promise((r) => setTimeout(r, 15));
      }
      expect(await t.ctx.cloud.getSnapshotImage(id)).toBeNull();
      if (cloud.fake) expect([...cloud.fake.images.values()].filter((i) => i.properties.simplevm_id === id)).toEqual([]);
      if (cloud.real) expect((await cloud.real.call('image', 'GET', `/v2/images?simplevm_id=${id}`)).data.images).toEqual([]);
      expect((await t.http.get(restoredUrl, { as })).data).toMatchObject({ status: 'ACTIVE', task_state: null, image_name: name });
      if (cloud.fake) expect(cloud.fake.serverTagged(restored.data.openstack_id)[0]).toMatchObject({ vmState: 'active' });
      if (cloud.real) expect((await cloud.real.serversTagged(restored.data.openstack_id))[0]).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:vm_state': 'active' });
    });
  });
});
