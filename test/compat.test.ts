// Scripts written for today's SimpleVM run unchanged (issue 15, spec §8), through real HTTP
// handling under /api/ and /portal/api/: the by-api-key lists and snapshots/images as aliases of
// the portal's own routes (and a project-bound key seeing only its project in each), the VM list's
// owner/openstack_id filters and its text search over ids, vm_uuid on attach, deleting a snapshot
// (gone at once, its image deleted by a durable transition, the VMs made from it running on),
// /portal/api/openapi.json, a project's keys, and the key policies SIMPLEVM_API_KEY_PROJECT and
// SIMPLEVM_API_KEY_EXPIRY.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES, type As, type TestPortal, type TestUser, buildTestApp, sleep, unique } from './helpers.js';

const PREFIXES = ['/api', '/portal/api'] as const;
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
const ROOMY = { vms: 100, cores: 500, ram_gb: 1000, volumes: 100, volume_gb: 10_000 };

type Res = Awaited<ReturnType<TestPortal['http']['get']>>;

function expectError(res: Res, status: number, code: string): void {
  expect({ status: res.statusCode, code: res.data?.code }, res.body).toEqual({ status, code });
  expect(typeof res.data.detail).toBe('string');
}

const ids = (list: { openstack_id: string }[]) => list.map((o) => o.openstack_id);

/** A page without its links, which name the path that was asked. */
const pageBody = (res: Res) => ({ status: res.statusCode, count: res.data?.count, results: res.data?.results });

let t: TestPortal;

/**
 * Project P (alice and bob members, carol its admin), project Q (alice), project R (an outsider's):
 * VMs, volumes and an active snapshot in them.
 */
interface World {
  su: TestUser;
  alice: TestUser;
  bob: TestUser;
  carol: TestUser;
  outsider: TestUser;
  p: number;
  q: number;
  r: number;
  vmA: string; // alice's, in P
  vmB: string; // bob's, in P
  vmQ: string; // alice's, in Q
  vmR: string; // outsider's, in R
  volA: string; // alice's, in P
  volQ: string; // alice's, in Q
  snapA: { openstack_id: string; name: string }; // alice's, of vmA, active
}
let w: World;

async function snapshotOf(portal: TestPortal, user: TestUser, vmId: string, name = unique('snap')) {
  const res = await portal.http.post('/api/snapshots/', { as: user.session, body: { snapshot_instance: vmId, snapshot_name: name } });
  expect(res.statusCode, res.body).toBe(202);
  await portal.factory.waitFor(user, `/api/projects/${res.data.project_id}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
    list.some((s) => s.openstack_id === res.data.openstack_id && s.status === 'active'));
  return { openstack_id: res.data.openstack_id as string, name, project_id: res.data.project_id as number };
}

beforeAll(async () => {
  t = await buildTestApp();
  const [su, alice, bob, carol, outsider] = await Promise.all([
    t.factory.user({ superuser: true }), t.factory.user(), t.factory.user(), t.factory.user(), t.factory.user(),
  ]);
  const p = await t.factory.project({ admins: [carol], members: [alice, bob], quota: ROOMY });
  const q = await t.factory.project({ members: [alice], quota: ROOMY });
  const r = await t.factory.project({ members: [outsider], quota: ROOMY });
  const [vmA, vmB, vmQ, vmR] = await Promise.all([t.factory.vm(alice, p.id), t.factory.vm(bob, p.id), t.factory.vm(alice, q.id), t.factory.vm(outsider, r.id)]);
  const [volA, volQ] = await Promise.all([t.factory.volume(alice, p.id), t.factory.volume(alice, q.id)]);
  const snapA = await snapshotOf(t, alice, vmA.openstack_id);
  w = {
    su, alice, bob, carol, outsider, p: p.id, q: q.id, r: r.id,
    vmA: vmA.openstack_id, vmB: vmB.openstack_id, vmQ: vmQ.openstack_id, vmR: vmR.openstack_id,
    volA: volA.openstack_id, volQ: volQ.openstack_id, snapA,
  };
}, 60_000);
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------
// SimpleVM's names for the portal's lists.
// ---------------------------------------------------------------------------------------------

describe('the by-api-key lists and snapshots/images answer as the routes they name', () => {
  const pairs = () => [
    ['/projects/by-api-key/', '/projects/'],
    ['/vms/by-api-key/', '/vms/'],
    [`/vms/by-api-key/?project_id=${w.p}&status=ACTIVE&page_size=1`, `/vms/?project_id=${w.p}&status=ACTIVE&page_size=1`],
    [`/vms/by-api-key/?owner=${w.bob.username}`, `/vms/?owner=${w.bob.username}`],
    ['/volumes/by-api-key/', '/volumes/'],
    [`/volumes/by-api-key/?project_id=${w.p}&status=available`, `/volumes/?project_id=${w.p}&status=available`],
    [`/projects/${w.p}/snapshots/images/`, `/projects/${w.p}/snapshots/`],
  ];

  it('the same status and body under both prefixes, for a session and for keys (own objects or not)', async () => {
    const callers: As[] = [
      w.alice.session,
      w.carol.session,
      w.su.session,
      { key: (await t.factory.key(w.alice)).key },
      { bearer: (await t.factory.key(w.carol, { own_objects_only: false })).key },
    ];
    for (const as of callers) {
      for (const [alias, original] of pairs()) {
        const expected = await t.http.get(`/api${original}`, { as });
        expect(expected.statusCode, `${original}: ${expected.body}`).toBe(200);
        for (const prefix of PREFIXES) {
          const res = await t.http.get(`${prefix}${alias}`, { as });
          if (Array.isArray(expected.data)) expect(res.data, `${prefix}${alias}`).toEqual(expected.data);
          else expect(pageBody(res), `${prefix}${alias}`).toEqual(pageBody(expected));
          expect(res.statusCode).toBe(200);
        }
      }
    }
  });

  it('pages of a by-api-key list link to the by-api-key list itself', async () => {
    for (const prefix of PREFIXES) {
      const res = await t.http.get(`${prefix}/vms/by-api-key/?project_id=${w.p}&page_size=1`, { as: w.carol.session });
      expect(res.data).toMatchObject({ count: 2, previous: null, next: `${prefix}/vms/by-api-key/?project_id=${w.p}&page_size=1&page=2` });
      const next = await t.http.get(res.data.next, { as: w.carol.session });
      expect(next.data.results).toHaveLength(1);
      expect(next.data.previous).toBe(`${prefix}/vms/by-api-key/?project_id=${w.p}&page_size=1&page=1`);
    }
  });

  it('a key bound to a project sees that project alone in every by-api-key list', async () => {
    const bound = { key: (await t.factory.key(w.alice, { project_id: w.p, own_objects_only: false })).key };
    for (const prefix of PREFIXES) {
      const projects = await t.http.get(`${prefix}/projects/by-api-key/`, { as: bound });
      expect(projects.data.map((x: { id: number }) => x.id)).toEqual([w.p]);
      // Alice is a member of P (not its admin): her VMs there, not those of Q.
      const vms = await t.http.get(`${prefix}/vms/by-api-key/?page_size=500`, { as: bound });
      expect(ids(vms.data.results)).toEqual([w.vmA]);
      const volumes = await t.http.get(`${prefix}/volumes/by-api-key/?page_size=500`, { as: bound });
      expect(ids(volumes.data.results)).toEqual([w.volA]);
      expect((await t.http.get(`${prefix}/projects/${w.p}/snapshots/images/`, { as: bound })).data.map((s: { openstack_id: string }) => s.openstack_id)).toEqual([w.snapA.openstack_id]);
      // Its user's other project is out of its reach, by any name.
      for (const url of [`/vms/by-api-key/?project_id=${w.q}`, `/volumes/by-api-key/?project_id=${w.q}`, `/projects/${w.q}/snapshots/images/`]) {
        expectError(await t.http.get(`${prefix}${url}`, { as: bound }), 404, 'not_found');
      }
    }
    // The same user's unbound key reaches both.
    const unbound = { key: (await t.factory.key(w.alice)).key };
    const all = await t.http.get('/api/projects/by-api-key/', { as: unbound });
    expect(all.data.map((x: { id: number }) => x.id).sort()).toEqual([w.p, w.q].sort());
    expect(ids((await t.http.get('/api/vms/by-api-key/', { as: unbound })).data.results).sort()).toEqual([w.vmA, w.vmQ].sort());
  });

  it('each needs its original\'s scope (403 naming it), and credentials (401)', async () => {
    const cases: [string, string][] = [
      ['/projects/by-api-key/', 'project:read'],
      ['/vms/by-api-key/', 'vm:read'],
      ['/volumes/by-api-key/', 'volume:read'],
      [`/projects/${w.p}/snapshots/images/`, 'project:read'],
    ];
    for (const [url, scope] of cases) {
      const lacking = (await t.factory.key(w.alice, { scopes: ALL_SCOPES.filter((s) => s !== scope) })).key;
      const only = (await t.factory.key(w.alice, { scopes: [scope] })).key;
      for (const prefix of PREFIXES) {
        const refused = await t.http.get(`${prefix}${url}`, { as: { key: lacking } });
        expectError(refused, 403, 'insufficient_scope');
        expect(refused.data.detail).toContain(scope);
        expect((await t.http.get(`${prefix}${url}`, { as: { key: only } })).statusCode).toBe(200);
        expectError(await t.http.get(`${prefix}${url}`), 401, 'not_authenticated');
      }
    }
  });

  it('by-api-key is never taken for an object id: the router prefers the static segment', async () => {
    for (const prefix of PREFIXES) {
      for (const kind of ['vms', 'volumes']) {
        const res = await t.http.get(`${prefix}/${kind}/by-api-key`, { as: w.alice.session });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.data).toMatchObject({ count: expect.any(Number), next: null, previous: null, results: expect.any(Array) });
      }
      const projects = await t.http.get(`${prefix}/projects/by-api-key`, { as: w.alice.session });
      expect(projects.statusCode).toBe(200);
      expect(Array.isArray(projects.data)).toBe(true);
      // Only GET has the alias: other methods on it name an object id that does not exist.
      expectError(await t.http.delete(`${prefix}/vms/by-api-key/`, { as: w.alice.session }), 404, 'not_found');
      expectError(await t.http.post(`${prefix}/volumes/by-api-key/action/`, { as: w.alice.session, body: { os_action: 'detach' } }), 404, 'not_found');
      // And the ids go on meaning ids.
      expect((await t.http.get(`${prefix}/vms/${w.vmA}/`, { as: w.alice.session })).data.openstack_id).toBe(w.vmA);
    }
  });

  it('snapshots/images: 404 for a project out of reach or none', async () => {
    for (const prefix of PREFIXES) {
      expectError(await t.http.get(`${prefix}/projects/${w.p}/snapshots/images/`, { as: w.outsider.session }), 404, 'not_found');
      expectError(await t.http.get(`${prefix}/projects/2147483647/snapshots/images/`, { as: w.su.session }), 404, 'not_found');
    }
  });

  it('the OpenAPI document has each alias once, with its own operationId and its original\'s schemas', async () => {
    const doc = (await t.http.get('/api/openapi.json')).data as { paths: Record<string, Record<string, Record<string, unknown>>> };
    const pairsInDoc: [string, string, string][] = [
      ['/api/projects/by-api-key', '/api/projects', 'listProjectsByApiKey'],
      ['/api/vms/by-api-key', '/api/vms', 'listVmsByApiKey'],
      ['/api/volumes/by-api-key', '/api/volumes', 'listVolumesByApiKey'],
      ['/api/projects/{id}/snapshots/images', '/api/projects/{id}/snapshots', 'listSnapshotImages'],
    ];
    for (const [alias, original, operationId] of pairsInDoc) {
      const a = doc.paths[alias]?.get;
      const o = doc.paths[original]?.get;
      expect(a?.operationId).toBe(operationId);
      expect(a?.description).toContain(`\`GET ${original}/\``);
      expect(a?.parameters).toEqual(o?.parameters);
      expect(a?.responses).toEqual(o?.responses);
    }
    const operationIds = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(operationIds).size).toBe(operationIds.length);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/portal/'))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// GET /api/vms/: ?owner, ?openstack_id, and ?text over names and ids.
// ---------------------------------------------------------------------------------------------

describe('the VM list filters by owner and openstack_id, and searches ids as well as names', () => {
  const listed = async (url: string, as: As = w.carol.session) => {
    const res = await t.http.get(url, { as });
    expect(res.statusCode, res.body).toBe(200);
    return ids(res.data.results).sort();
  };

  it('?owner: the VMs of one user (exact username), within the caller\'s reach', async () => {
    for (const list of ['/api/vms/', '/api/vms/by-api-key/', '/portal/api/vms/']) {
      expect(await listed(`${list}?owner=${w.bob.username}`)).toEqual([w.vmB]);
      expect(await listed(`${list}?owner=${w.alice.username}&project_id=${w.p}`)).toEqual([w.vmA]);
      expect(await listed(`${list}?owner=${w.bob.username.toUpperCase()}`)).toEqual([]);
      expect(await listed(`${list}?owner=${w.bob.username.slice(0, -1)}`)).toEqual([]);
      expect(await listed(`${list}?owner=nobody-at-all`)).toEqual([]);
    }
    // Reach still applies: a member asking for another member's VMs gets none, a superuser all.
    expect(await listed(`/api/vms/?owner=${w.bob.username}`, w.alice.session)).toEqual([]);
    expect(await listed(`/api/vms/?owner=${w.outsider.username}`, w.su.session)).toEqual([w.vmR]);
    expect(await listed(`/api/vms/?owner=${w.outsider.username}`, { key: (await t.factory.key(w.su)).key })).toEqual([]);
  });

  it('?openstack_id: that VM alone, or nothing; and it keeps the DELETED rule', async () => {
    expect(await listed(`/api/vms/?openstack_id=${w.vmB}`)).toEqual([w.vmB]);
    expect(await listed(`/api/vms/by-api-key/?openstack_id=${w.vmA}&owner=${w.alice.username}`)).toEqual([w.vmA]);
    expect(await listed(`/api/vms/?openstack_id=${w.vmA}&owner=${w.bob.username}`)).toEqual([]);
    expect(await listed(`/api/vms/?openstack_id=${w.vmR}`)).toEqual([]); // out of reach
    expect(await listed(`/api/vms/?openstack_id=${w.vmA.slice(0, 8)}`)).toEqual([]); // exact, not a search
    expect(await listed(`/api/vms/?openstack_id=${NO_SUCH_ID}`)).toEqual([]);
    const gone = await t.factory.vm(w.carol, w.p);
    expect((await t.http.delete(`/api/vms/${gone.openstack_id}/`, { as: w.carol.session })).statusCode).toBe(202);
    await t.factory.waitFor(w.carol, `/api/vms/${gone.openstack_id}/`, (d) => d.status === 'DELETED');
    expect(await listed(`/api/vms/?openstack_id=${gone.openstack_id}`)).toEqual([]);
    expect(await listed(`/api/vms/?openstack_id=${gone.openstack_id}&status=DELETED`)).toEqual([gone.openstack_id]);
  });

  it('?text matches part of the name or of the openstack_id, in any case; % and _ match themselves', async () => {
    const tail = w.vmB.split('-')[4];
    expect(await listed(`/api/vms/?text=${tail.toUpperCase()}`)).toEqual([w.vmB]);
    expect(await listed(`/api/vms/by-api-key/?text=${w.vmA}`)).toEqual([w.vmA]);
    const vmA = (await t.http.get(`/api/vms/${w.vmA}/`, { as: w.alice.session })).data;
    expect(await listed(`/api/vms/?text=${encodeURIComponent(vmA.name.slice(2).toUpperCase())}`)).toEqual([w.vmA]);
    expect(await listed('/api/vms/?text=%25')).toEqual([]);
    expect(await listed('/api/vms/?text=_')).toEqual([]);
    // Within reach only.
    expect(await listed(`/api/vms/?text=${w.vmR.slice(0, 13)}`)).toEqual([]);
  });

  it('an empty filter filters nothing, as in SimpleVM', async () => {
    const all = await listed(`/api/vms/?project_id=${w.p}`);
    expect(all).toEqual(expect.arrayContaining([w.vmA, w.vmB]));
    expect(await listed(`/api/vms/?project_id=${w.p}&owner=&openstack_id=&text=`)).toEqual(all);
  });

  it('a filter longer than any value is 400 invalid, naming it', async () => {
    for (const [field, length] of [['owner', 151], ['openstack_id', 256], ['text', 256]] as const) {
      const res = await t.http.get(`/api/vms/by-api-key/?${field}=${'x'.repeat(length)}`, { as: w.carol.session });
      expectError(res, 400, 'invalid');
      expect(Object.keys(res.data.errors)).toContain(field);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// POST /api/volumes/{id}/action/ attach: vm_uuid.
// ---------------------------------------------------------------------------------------------

describe('attach takes vm_uuid as a synonym of vm_openstack_id', () => {
  async function attachedWith(body: Record<string, unknown>, form: boolean, prefix = '/api') {
    const vol = await t.factory.volume(w.alice, w.p);
    const url = `/api/volumes/${vol.openstack_id}/`;
    const res = await t.http.post(`${prefix}/volumes/${vol.openstack_id}/action/`, { as: w.alice.session, form, body: { os_action: 'attach', ...body } });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.data.status).toBe('attaching');
    await t.factory.waitFor(w.alice, url, (d) => d.status === 'in-use' && d.attached_to === w.vmA);
    // Free it again for the next test's attachments (devices are per VM).
    expect((await t.http.post(`${url}action/`, { as: w.alice.session, body: { os_action: 'detach' } })).statusCode).toBe(202);
    await t.factory.waitFor(w.alice, url, (d) => d.status === 'available');
  }

  it('in JSON and in a form, under both prefixes', async () => {
    await attachedWith({ vm_uuid: w.vmA }, false);
    await attachedWith({ vm_uuid: w.vmA }, true, '/portal/api');
  });

  it('both given, and the same: fine', async () => {
    await attachedWith({ vm_uuid: w.vmA, vm_openstack_id: w.vmA }, true);
  });

  it('both given and different: 400 invalid naming vm_uuid, nothing changes, and the refusal is audited', async () => {
    for (const form of [false, true]) {
      const res = await t.http.post(`/api/volumes/${w.volA}/action/`, { as: w.alice.session, form, body: { os_action: 'attach', vm_uuid: w.vmA, vm_openstack_id: w.vmB } });
      expectError(res, 400, 'invalid');
      expect(Object.keys(res.data.errors)).toEqual(['vm_uuid']);
    }
    expect((await t.http.get(`/api/volumes/${w.volA}/`, { as: w.alice.session })).data).toMatchObject({ status: 'available', attached_to: null });
    const audit = await t.http.get('/api/audit/?action=volume.action', { as: w.alice.session });
    expect(audit.data.results.find((e: { object_id: string }) => e.object_id === w.volA)).toMatchObject({ outcome: 'failure' });
  });

  it('a VM named by vm_uuid out of reach, or in another project, is 404 like by vm_openstack_id; a bad one is 400', async () => {
    expectError(await t.http.post(`/api/volumes/${w.volA}/action/`, { as: w.alice.session, body: { os_action: 'attach', vm_uuid: w.vmR } }), 404, 'not_found');
    expectError(await t.http.post(`/api/volumes/${w.volA}/action/`, { as: w.alice.session, body: { os_action: 'attach', vm_uuid: w.vmQ } }), 404, 'not_found');
    expectError(await t.http.post(`/api/volumes/${w.volA}/action/`, { as: w.alice.session, body: { os_action: 'attach', vm_uuid: 'v'.repeat(65) } }), 400, 'invalid');
    expectError(await t.http.post(`/api/volumes/${w.volA}/action/`, { as: w.alice.session, body: { os_action: 'attach', vm_uuid: 7 } }), 400, 'invalid');
  });
});

// ---------------------------------------------------------------------------------------------
// DELETE /api/snapshots/{openstack_id}/.
// ---------------------------------------------------------------------------------------------

/** What the portal still has of a snapshot: its row's status, or null once it is gone. */
async function snapshotRow(portal: TestPortal, id: string): Promise<string | null> {
  const row = await portal.ctx.db.kysely.selectFrom('snapshots').select('status').where('openstack_id', '=', id).executeTakeFirst();
  return row?.status ?? null;
}

async function waitGone(portal: TestPortal, id: string): Promise<void> {
  const until = Date.now() + 10_000;
  while ((await snapshotRow(portal, id)) !== null) {
    if (Date.now() > until) throw new Error(`snapshot ${id} is still there`);
    await sleep(15);
  }
}

describe('DELETE /api/snapshots/{openstack_id}/', () => {
  it('204; at once no longer listed nor an image; its image deleted by the cloud; VMs made from it keep running', async () => {
    const { alice } = w;
    const vm = await t.factory.vm(alice, w.p);
    const snap = await snapshotOf(t, alice, vm.openstack_id);
    const fromSnap = await t.http.post('/api/vms/', { as: alice.session, body: { project_id: w.p, image_name: snap.name, flavor_name: 'de.NBI tiny', vm_name: unique('restored') } });
    expect(fromSnap.statusCode, fromSnap.body).toBe(201);
    const restored = `/api/vms/${fromSnap.data.openstack_id}/`;
    await t.factory.waitFor(alice, restored, (d) => d.status === 'ACTIVE');
    expect(await t.ctx.cloud.getSnapshotImage(snap.openstack_id)).toMatchObject({ status: 'active' });

    const res = await t.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: alice.session });
    expect(res.statusCode, res.body).toBe(204);
    expect(res.body).toBe('');

    // Gone for the API at once, before the cloud has finished.
    for (const prefix of PREFIXES) {
      for (const url of [`/projects/${w.p}/snapshots/`, `/projects/${w.p}/snapshots/images/`]) {
        expect(ids((await t.http.get(`${prefix}${url}`, { as: alice.session })).data), url).not.toContain(snap.openstack_id);
      }
      const images = (await t.http.get(`${prefix}/projects/${w.p}/images/`, { as: alice.session })).data.map((i: { name: string }) => i.name);
      expect(images).not.toContain(snap.name);
    }
    const boot = await t.http.post('/api/vms/', { as: alice.session, body: { project_id: w.p, image_name: snap.name, flavor_name: 'de.NBI tiny', vm_name: unique('late') } });
    expectError(boot, 400, 'invalid');
    expect(Object.keys(boot.data.errors)).toEqual(['image_name']);
    expectError(await t.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: alice.session }), 404, 'not_found');

    // The transition ends it: the cloud's image is deleted, then the snapshot itself.
    await waitGone(t, snap.openstack_id);
    expect(await t.ctx.cloud.getSnapshotImage(snap.openstack_id)).toBeNull();
    const history = await t.ctx.db.kysely.selectFrom('transition_history').select(['action', 'outcome']).where('object_id', '=', snap.openstack_id).orderBy('finished_at').execute();
    expect(history).toEqual([{ action: 'create', outcome: 'success' }, { action: 'delete', outcome: 'success' }]);

    // The VM made from it runs on, and still works.
    expect((await t.http.get(restored, { as: alice.session })).data).toMatchObject({ status: 'ACTIVE', task_state: null, image_name: snap.name });
    expect((await t.http.post(`${restored}action/`, { as: alice.session, body: { os_action: 'stop' } })).statusCode).toBe(202);
    await t.factory.waitFor(alice, restored, (d) => d.status === 'SHUTOFF' && d.task_state === null);
    expect((await t.http.get(`/api/vms/${vm.openstack_id}/`, { as: alice.session })).data.status).toBe('ACTIVE');

    // Audited, with the snapshot as its object; and its name is free again.
    const audit = await t.http.get('/api/audit/?action=snapshot.delete', { as: alice.session });
    expect(audit.data.results[0]).toMatchObject({ action: 'snapshot.delete', actor: alice.username, object_type: 'snapshot', object_id: snap.openstack_id, outcome: 'success' });
    await snapshotOf(t, alice, vm.openstack_id, snap.name);
  });

  it('under /portal/api/ and without the trailing slash, with a key that has vm:delete', async () => {
    const vm = await t.factory.vm(w.alice, w.p);
    const key = (await t.factory.key(w.alice, { scopes: ['vm:delete'] })).key;
    const snap = await snapshotOf(t, w.alice, vm.openstack_id);
    const res = await t.http.delete(`/portal/api/snapshots/${snap.openstack_id}`, { as: { key } });
    expect(res.statusCode, res.body).toBe(204);
    await waitGone(t, snap.openstack_id);
  });

  it('a key without vm:delete is 403 naming it, even with snapshot:create; no credentials 401', async () => {
    const key = (await t.factory.key(w.alice, { scopes: ALL_SCOPES.filter((s) => s !== 'vm:delete') })).key;
    for (const prefix of PREFIXES) {
      const res = await t.http.delete(`${prefix}/snapshots/${w.snapA.openstack_id}/`, { as: { key } });
      expectError(res, 403, 'insufficient_scope');
      expect(res.data.detail).toContain('vm:delete');
      expectError(await t.http.delete(`${prefix}/snapshots/${w.snapA.openstack_id}/`), 401, 'not_authenticated');
    }
    expect(await snapshotRow(t, w.snapA.openstack_id)).toBe('active');
  });

  it('out of reach is 404, whoever asks: another member, an outsider, an own-objects key of the admin, a key of another project', async () => {
    const callers: [string, As][] = [
      ['another member', w.bob.session],
      ['an outsider', w.outsider.session],
      ['the project admin\'s own-objects key', { key: (await t.factory.key(w.carol)).key }],
      ['alice\'s key bound to Q', { key: (await t.factory.key(w.alice, { project_id: w.q })).key }],
      ['a superuser\'s own-objects key', { key: (await t.factory.key(w.su)).key }],
    ];
    for (const [who, as] of callers) {
      for (const prefix of PREFIXES) expectError(await t.http.delete(`${prefix}/snapshots/${w.snapA.openstack_id}/`, { as }), 404, 'not_found');
      expect(await snapshotRow(t, w.snapA.openstack_id), who).toBe('active');
    }
    for (const id of [NO_SUCH_ID, 'x'.repeat(65), 'by-api-key']) {
      expectError(await t.http.delete(`/api/snapshots/${id}/`, { as: w.su.session }), 404, 'not_found');
    }
  });

  it('the project\'s admin may delete a member\'s snapshot; it is the member\'s event too', async () => {
    const vm = await t.factory.vm(w.bob, w.p);
    const snap = await snapshotOf(t, w.bob, vm.openstack_id);
    expect((await t.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: w.carol.session })).statusCode).toBe(204);
    const seen = await t.http.get('/api/audit/?action=snapshot.delete', { as: w.bob.session });
    expect(seen.data.results.map((e: { object_id: string }) => e.object_id)).toContain(snap.openstack_id);
    await waitGone(t, snap.openstack_id);
  });
});

describe('DELETE /api/snapshots/{openstack_id}/, step by step (the worker driven by hand)', () => {
  let still: TestPortal;
  let user: TestUser;
  let project: number;

  /** Runs the worker until no transition is left. */
  async function settle(): Promise<void> {
    const until = Date.now() + 20_000;
    for (;;) {
      await still.ctx.worker.tick();
      const { rows } = await sql<{ n: number | string }>`select count(*) as n from transitions`.execute(still.ctx.db.kysely);
      if (Number(rows[0].n) === 0) return;
      if (Date.now() > until) throw new Error('transitions did not finish');
      await sleep(10);
    }
  }

  async function activeVm(image = 'Ubuntu-22.04'): Promise<string> {
    const res = await still.http.post('/api/vms/', { as: user.session, body: { project_id: project, image_name: image, flavor_name: 'de.NBI tiny', vm_name: unique('vm') } });
    expect(res.statusCode, res.body).toBe(201);
    await settle();
    return res.data.openstack_id;
  }

  async function snapshot(vm: string): Promise<{ openstack_id: string; name: string }> {
    const res = await still.http.post('/api/snapshots/', { as: user.session, body: { snapshot_instance: vm, snapshot_name: unique('snap') } });
    expect(res.statusCode, res.body).toBe(202);
    return { openstack_id: res.data.openstack_id, name: res.data.name };
  }

  beforeAll(async () => {
    still = await buildTestApp({}, { worker: false });
    user = await still.factory.user();
    project = (await still.factory.project({ members: [user], quota: ROOMY })).id;
  }, 60_000);
  afterAll(() => still?.close());

  it('a snapshot still being saved (queued) is 409 invalid_state, and deletable once active', async () => {
    const snap = await snapshot(await activeVm());
    const refused = await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session });
    expectError(refused, 409, 'invalid_state');
    expect(await snapshotRow(still, snap.openstack_id)).toBe('queued');
    const audit = await still.http.get('/api/audit/?action=snapshot.delete', { as: user.session });
    expect(audit.data.results[0]).toMatchObject({ object_id: snap.openstack_id, outcome: 'failure' });
    await settle();
    expect(await snapshotRow(still, snap.openstack_id)).toBe('active');
    expect((await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session })).statusCode).toBe(204);
    await settle();
    expect(await snapshotRow(still, snap.openstack_id)).toBeNull();
  });

  it('while the transition runs the snapshot is `deleting`: hidden, not deletable again, its name still taken; then gone', async () => {
    const vm = await activeVm();
    const snap = await snapshot(vm);
    await settle();
    expect((await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session })).statusCode).toBe(204);
    expect(await snapshotRow(still, snap.openstack_id)).toBe('deleting');
    expect(ids((await still.http.get(`/api/projects/${project}/snapshots/`, { as: user.session })).data)).not.toContain(snap.openstack_id);
    expectError(await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session }), 404, 'not_found');
    // The cloud still has the image until the transition has run: the name is not free yet.
    const again = await still.http.post('/api/snapshots/', { as: user.session, body: { snapshot_instance: vm, snapshot_name: snap.name } });
    expectError(again, 400, 'invalid');
    expect(await still.ctx.cloud.getSnapshotImage(snap.openstack_id)).toMatchObject({ status: 'active' });
    await settle();
    expect(await snapshotRow(still, snap.openstack_id)).toBeNull();
    expect(await still.ctx.cloud.getSnapshotImage(snap.openstack_id)).toBeNull();
  });

  it('while a VM is being built from it, 409 invalid_state; once that VM is ACTIVE, 204', async () => {
    const snap = await snapshot(await activeVm());
    await settle();
    const building = await still.http.post('/api/vms/', { as: user.session, body: { project_id: project, image_name: snap.name, flavor_name: 'de.NBI tiny', vm_name: unique('vm') } });
    expect(building.statusCode, building.body).toBe(201);
    expect(building.data.status).toBe('BUILD');
    const refused = await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session });
    expectError(refused, 409, 'invalid_state');
    expect(refused.data.detail).toContain('being built');
    await settle();
    expect((await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session })).statusCode).toBe(204);
    await settle();
    expect((await still.http.get(`/api/vms/${building.data.openstack_id}/`, { as: user.session })).data).toMatchObject({ status: 'ACTIVE', image_name: snap.name });
  });

  it('a delete the cloud does not finish in time leaves the snapshot in error, shown again and deletable again', async () => {
    const snap = await snapshot(await activeVm());
    await settle();
    expect((await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session })).statusCode).toBe(204);
    // Its deadline passes before the worker gets to it.
    await still.ctx.db.kysely.updateTable('transitions').set({ deadline_at: new Date(Date.now() - 1000).toISOString() }).where('object_id', '=', snap.openstack_id).execute();
    await settle();
    const listed = (await still.http.get(`/api/projects/${project}/snapshots/`, { as: user.session })).data;
    expect(listed.find((s: { openstack_id: string }) => s.openstack_id === snap.openstack_id)).toMatchObject({ status: 'error' });
    expect((await still.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: user.session })).statusCode).toBe(204);
    await settle();
    expect(await snapshotRow(still, snap.openstack_id)).toBeNull();
    expect(await still.ctx.cloud.getSnapshotImage(snap.openstack_id)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// /portal/api/openapi.json.
// ---------------------------------------------------------------------------------------------

describe('GET /portal/api/openapi.json', () => {
  it('answers the same document as /api/openapi.json, with or without credentials', async () => {
    const ours = await t.http.get('/api/openapi.json');
    expect(ours.statusCode).toBe(200);
    for (const as of [null, w.alice.session]) {
      const portal = await t.http.get('/portal/api/openapi.json', { as });
      expect(portal.statusCode).toBe(200);
      expect(portal.headers['content-type']).toMatch(/^application\/json/);
      expect(portal.data).toEqual(ours.data);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// GET /api/projects/{id}/keys/.
// ---------------------------------------------------------------------------------------------

describe('GET /api/projects/{id}/keys/', () => {
  it('the caller\'s live keys bound to the project, never the secret, under both prefixes', async () => {
    const user = await t.factory.user();
    const other = await t.factory.user();
    const p = await t.factory.project({ members: [user, other] });
    const q = await t.factory.project({ members: [user] });
    const [boundA, boundB, unbound, elsewhere, deleted, theirs] = [
      await t.factory.key(user, { project_id: p.id }), await t.factory.key(user, { project_id: p.id, own_objects_only: false }),
      await t.factory.key(user), await t.factory.key(user, { project_id: q.id }), await t.factory.key(user, { project_id: p.id }),
      await t.factory.key(other, { project_id: p.id }),
    ];
    expect((await t.http.delete(`/api/keys/${deleted.id}/`, { as: user.session })).statusCode).toBe(204);
    for (const prefix of PREFIXES) {
      const res = await t.http.get(`${prefix}/projects/${p.id}/keys/`, { as: user.session });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.data.map((k: { id: number }) => k.id)).toEqual([boundB.id, boundA.id]); // newest first, as GET /api/keys/
      expect(res.data[0]).toMatchObject({ prefix: boundB.prefix, project_id: p.id, own_objects_only: false, scopes: expect.any(Array) });
      expect(res.body).not.toContain(boundA.key);
      expect(res.body).not.toContain('digest');
    }
    const all = (await t.http.get('/api/keys/', { as: user.session })).data.map((k: { id: number }) => k.id);
    expect(all).toEqual(expect.arrayContaining([boundA.id, boundB.id, unbound.id, elsewhere.id]));
    expect((await t.http.get(`/api/projects/${q.id}/keys/`, { as: user.session })).data.map((k: { id: number }) => k.id)).toEqual([elsewhere.id]);
    expect((await t.http.get(`/api/projects/${p.id}/keys/`, { as: other.session })).data.map((k: { id: number }) => k.id)).toEqual([theirs.id]);
  });

  it('a web session only: an API key (even bound to that project) is 403 session_required; none is 401', async () => {
    const key = (await t.factory.key(w.alice, { project_id: w.p })).key;
    for (const prefix of PREFIXES) {
      expectError(await t.http.get(`${prefix}/projects/${w.p}/keys/`, { as: { key } }), 403, 'session_required');
      expectError(await t.http.get(`${prefix}/projects/${w.p}/keys/`), 401, 'not_authenticated');
    }
  });

  it('404 for a project out of reach, none, or no project id at all; a superuser reaches every project', async () => {
    for (const prefix of PREFIXES) {
      expectError(await t.http.get(`${prefix}/projects/${w.r}/keys/`, { as: w.alice.session }), 404, 'not_found');
      expectError(await t.http.get(`${prefix}/projects/2147483647/keys/`, { as: w.su.session }), 404, 'not_found');
      expectError(await t.http.get(`${prefix}/projects/by-api-key/keys/`, { as: w.su.session }), 404, 'not_found');
    }
    expect((await t.http.get(`/api/projects/${w.r}/keys/`, { as: w.su.session })).data).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// SIMPLEVM_API_KEY_PROJECT and SIMPLEVM_API_KEY_EXPIRY.
// ---------------------------------------------------------------------------------------------

describe('key policies', () => {
  const later = () => new Date(Date.now() + 7 * 86_400_000).toISOString();
  const create = (portal: TestPortal, user: TestUser, body: Record<string, unknown>, form = false) =>
    portal.http.post('/api/keys/', { as: user.session, form, body: { name: unique('k').slice(0, 50), scopes: ['vm:read'], ...body } });

  it('by default neither field is required, and GET /api/auth/me says so', async () => {
    expect((await create(t, w.alice, {})).statusCode).toBe(201);
    const me = await t.http.get('/api/auth/me', { as: w.alice.session });
    expect(me.data).toMatchObject({ api_key_project_required: false, api_key_expiry_required: false });
  });

  describe('SIMPLEVM_API_KEY_PROJECT=required', () => {
    let strict: TestPortal;
    let user: TestUser;
    let project: number;
    beforeAll(async () => {
      strict = await buildTestApp({ SIMPLEVM_API_KEY_PROJECT: 'required' });
      user = await strict.factory.user();
      project = (await strict.factory.project({ members: [user] })).id;
    }, 60_000);
    afterAll(() => strict?.close());

    it('a key without project_id (or with null) is 400 invalid naming project_id, in JSON and in a form', async () => {
      for (const [body, form] of [[{}, false], [{ project_id: null }, false], [{}, true], [{ expires_at: later() }, true]] as const) {
        const res = await create(strict, user, body, form);
        expectError(res, 400, 'invalid');
        expect(Object.keys(res.data.errors)).toEqual(['project_id']);
      }
      expect((await strict.http.get('/api/keys/', { as: user.session })).data).toEqual([]);
    });

    it('a bound key is made (expiry optional), and /api/auth/me tells the web app', async () => {
      const res = await create(strict, user, { project_id: project });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.data.project_id).toBe(project);
      const viaKey = await strict.http.get('/api/auth/me', { as: { key: res.data.key } });
      expect(viaKey.data).toMatchObject({ api_key_project_required: true, api_key_expiry_required: false });
      // Reach before policy: an unreachable project is 404, not 400.
      const foreign = await strict.factory.project();
      expectError(await create(strict, user, { project_id: foreign.id }), 404, 'not_found');
    });

    it('rotation keeps working, also for a key made before the policy (it keeps its settings)', async () => {
      const bound = await strict.factory.key(user, { project_id: project });
      const rotated = await strict.http.post(`/api/keys/${bound.id}/rotate/`, { as: user.session, body: {} });
      expect(rotated.statusCode, rotated.body).toBe(201);
      expect(rotated.data.project_id).toBe(project);
      // A key made while the policy was off, on the same database, as after a restart with it on.
      strict.ctx.config.apiKeyProject = 'optional';
      const old = await strict.factory.key(user);
      strict.ctx.config.apiKeyProject = 'required';
      const res = await strict.http.post(`/api/keys/${old.id}/rotate/`, { as: user.session, body: { overlap_hours: 1 } });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.data.project_id).toBeNull();
      expect((await strict.http.get('/api/auth/me', { as: { key: res.data.key } })).statusCode).toBe(200);
    });
  });

  describe('SIMPLEVM_API_KEY_EXPIRY=required', () => {
    let strict: TestPortal;
    let user: TestUser;
    beforeAll(async () => {
      strict = await buildTestApp({ SIMPLEVM_API_KEY_EXPIRY: 'required' });
      user = await strict.factory.user();
    }, 60_000);
    afterAll(() => strict?.close());

    it('a key without expires_at is 400 invalid naming expires_at; with it, 201; rotation keeps working', async () => {
      for (const form of [false, true]) {
        const res = await create(strict, user, {}, form);
        expectError(res, 400, 'invalid');
        expect(Object.keys(res.data.errors)).toEqual(['expires_at']);
      }
      const expiresAt = later();
      const made = await create(strict, user, { expires_at: expiresAt }, true);
      expect(made.statusCode, made.body).toBe(201);
      expect(made.data.expires_at).toBe(expiresAt);
      expect((await strict.http.get('/api/auth/me', { as: user.session })).data).toMatchObject({ api_key_project_required: false, api_key_expiry_required: true });
      const rotated = await strict.http.post(`/api/keys/${made.data.id}/rotate/`, { as: user.session, body: {} });
      expect(rotated.statusCode, rotated.body).toBe(201);
    });
  });
});
