import { it } from 'vitest';
import { sql } from 'kysely';
import { buildTestApp } from './helpers.js';
it('extend/detach of an attached volume while its VM is deleted', async () => {
  const t = await buildTestApp({ SIMPLEVM_SIM_DELAY_MS: '100' }, { worker: false });
  const u = await t.factory.user({ superuser: true });
  const p = await t.factory.project({ admins: [u] });
  const as = u.session;
  const tick = async (n = 40) => { for (let i = 0; i < n; i++) { await t.ctx.worker.tick(); await new Promise((r) => setTimeout(r, 20)); } };
  const results = [];
  for (const [k, action, order] of [[0, 'extend', 'vol-first'], [1, 'extend', 'vm-first'], [2, 'detach', 'vol-first'], [3, 'detach', 'vm-first'], [4, 'attach', 'vol-first']] as const) {
    const vm = (await t.http.post('/api/vms/', { as, body: { project_id: p.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: `v${k}` } })).data.openstack_id;
    const vol = (await t.http.post('/api/volumes/', { as, body: { project_id: p.id, name: `x${k}`, storage: 1 } })).data.openstack_id;
    await tick();
    if (action !== 'attach') { await t.http.post(`/api/volumes/${vol}/action/`, { as, body: { os_action: 'attach', vm_openstack_id: vm } }); await tick(); }
    const body = action === 'extend' ? { os_action: 'extend', size: 5 } : action === 'attach' ? { os_action: 'attach', vm_openstack_id: vm } : { os_action: 'detach' };
    const a = async () => (await t.http.post(`/api/volumes/${vol}/action/`, { as, body })).statusCode;
    const d = async () => (await t.http.delete(`/api/vms/${vm}/`, { as })).statusCode;
    const codes = order === 'vol-first' ? [await a(), await d()] : [await d(), await a()];
    await tick(60);
    const v = (await t.http.get(`/api/volumes/${vol}/`, { as })).data;
    const left = (await sql`select action from transitions where object_id = ${vol}`.execute(t.ctx.db.kysely)).rows;
    results.push([action, order, ...codes, v.status, v.storage, v.attached_to === vm, JSON.stringify(left)]);
  }
  console.log(JSON.stringify(results));
  await t.close();
});
