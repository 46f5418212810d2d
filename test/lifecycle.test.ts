// A VM's and a volume's whole life through the HTTP API (spec §5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, buildTestApp } from './helpers.js';

let t: TestPortal;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

describe('VM lifecycle', () => {
  it('creates a VM from a form body exactly as curl -d sends it', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const res = await t.http.post('/api/vms/', {
      as: user.session,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: undefined,
    });
    expect(res.statusCode).toBe(400);
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/vms/',
      headers: { cookie: user.session.cookie, 'x-csrf-token': user.session.csrf, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `project_id=${project.id}&image_name=Ubuntu-22.04&flavor_name=de.NBI+small&vm_name=from-curl`,
    });
    expect(form.statusCode).toBe(201);
    expect(form.json()).toMatchObject({ name: 'from-curl', project_id: project.id, owner: user.username, status: 'BUILD', task_state: 'spawning', flavor_name: 'de.NBI small' });
  });

  it('walks BUILD → ACTIVE → SHUTOFF → ACTIVE → (reboot) ACTIVE → DELETED', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const as = user.session;
    const created = await t.http.post('/api/vms/', { as, body: { project_id: project.id, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: 'walker' } });
    expect(created.statusCode).toBe(201);
    const url = `/api/vms/${created.data.openstack_id}/`;
    const active = await t.factory.waitFor(user, url, (d) => d.status === 'ACTIVE');
    expect(active.task_state).toBeNull();
    expect(active.fixed_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    const stop = await t.http.post(`${url}action/`, { as, body: { os_action: 'stop' } });
    expect(stop.statusCode).toBe(202);
    expect(stop.data.task_state).toBe('powering-off');
    expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'reboot' } })).data.code).toBe('invalid_state');
    await t.factory.waitFor(user, url, (d) => d.status === 'SHUTOFF' && d.task_state === null);

    const resume = await t.http.post(`${url}action/`, { as, body: { os_action: 'resume' } });
    expect(resume.statusCode).toBe(202);
    expect(resume.data.task_state).toBe('powering-on');
    await t.factory.waitFor(user, url, (d) => d.status === 'ACTIVE' && d.task_state === null);

    const reboot = await t.http.post(`${url}action/`, { as, body: { os_action: 'reboot', reboot_type: 'HARD' } });
    expect(reboot.statusCode).toBe(202);
    expect(reboot.data).toMatchObject({ status: 'HARD_REBOOT', task_state: 'rebooting_hard' });
    await t.factory.waitFor(user, url, (d) => d.status === 'ACTIVE' && d.task_state === null);

    const del = await t.http.delete(url, { as });
    expect(del.statusCode).toBe(202);
    expect(del.data.task_state).toBe('deleting');
    const gone = await t.factory.waitFor(user, url, (d) => d.status === 'DELETED');
    expect(gone.task_state).toBeNull();
    expect((await t.http.delete(url, { as })).data.code).toBe('invalid_state');

    const list = await t.http.get(`/api/vms/?project_id=${project.id}`, { as });
    expect(list.data.results.map((v: { openstack_id: string }) => v.openstack_id)).not.toContain(created.data.openstack_id);
    const deleted = await t.http.get(`/api/vms/?project_id=${project.id}&status=DELETED`, { as });
    expect(deleted.data.results.map((v: { openstack_id: string }) => v.openstack_id)).toContain(created.data.openstack_id);
  });
});

describe('volume lifecycle', () => {
  it('attaches, detaches, extends and deletes; deleting a VM frees its volumes', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const as = user.session;
    const vm = await t.factory.vm(user, project.id);
    const vol = await t.factory.volume(user, project.id, { storage: 2 });
    const url = `/api/volumes/${vol.openstack_id}/`;

    const attach = await t.http.post(`${url}action/`, { as, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } });
    expect(attach.statusCode).toBe(202);
    expect(attach.data.status).toBe('attaching');
    const attached = await t.factory.waitFor(user, url, (d) => d.status === 'in-use');
    expect(attached).toMatchObject({ attached_to: vm.openstack_id, device: '/dev/vdb' });
    expect((await t.http.get(`/api/vms/${vm.openstack_id}/`, { as })).data.volumes).toEqual([vol.openstack_id]);
    expect((await t.http.delete(url, { as })).data.code).toBe('invalid_state');

    expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'detach' } })).statusCode).toBe(202);
    await t.factory.waitFor(user, url, (d) => d.status === 'available' && d.attached_to === null);

    expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'extend', size: 2 } })).data.code).toBe('invalid');
    expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'extend', size: 5 } })).statusCode).toBe(202);
    await t.factory.waitFor(user, url, (d) => d.status === 'available' && d.storage === 5);

    expect((await t.http.post(`${url}action/`, { as, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } })).statusCode).toBe(202);
    await t.factory.waitFor(user, url, (d) => d.status === 'in-use');
    expect((await t.http.delete(`/api/vms/${vm.openstack_id}/`, { as })).statusCode).toBe(202);
    await t.factory.waitFor(user, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'DELETED');
    const freed = await t.http.get(url, { as });
    expect(freed.data).toMatchObject({ status: 'available', attached_to: null, device: null });

    expect((await t.http.delete(url, { as })).statusCode).toBe(202);
    const until = Date.now() + 5000;
    let status = 200;
    while (Date.now() < until && status === 200) {
      status = (await t.http.get(url, { as })).statusCode;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(404);
  });
});
