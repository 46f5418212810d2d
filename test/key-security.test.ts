// One security test generator for every route an API key may call (STYLE §10, spec §2–§4):
// no credentials → 401; a key without the route's scope → 403 insufficient_scope naming it;
// another user's object through an own-objects key → 404 (and reachable with own_objects_only=false);
// a project-bound key → 404 on another project and its objects; a superuser's own-objects key → 404
// on other users' objects. Add a route, add a row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../src/shared/contract.js';
import { ALL_SCOPES, type As, type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';

/** The objects a route is called on: a project, and a VM, a volume and a snapshot that its member `owner` made. */
interface World {
  project: number;
  vm: string;
  volume: string;
  snapshot: string;
}

/**
 * What the route works on, which decides what "out of reach" means for it:
 * - `vm` / `volume` / `snapshot`: one object named in the path or body → 404 when out of reach;
 * - `project`: a project named in the path or body → 404 when the project is out of reach
 *   (projects are not owned, so an own-objects key still reaches its user's projects);
 * - `vm-list` / `volume-list`: a page filtered to the project → 404 when the project is out of reach,
 *   else the object is listed exactly when it is in reach;
 * - `project-list`: the project is listed exactly when it is in reach;
 * - `caller`: about the caller only (no reach to test).
 */
type On = 'vm' | 'volume' | 'snapshot' | 'project' | 'vm-list' | 'volume-list' | 'project-list' | 'caller';

interface Row {
  method: 'GET' | 'POST' | 'DELETE';
  path: (w: World) => string;
  /** The scope the route needs; null when any key may call it. */
  scope: Scope | null;
  body?: (w: World) => Record<string, unknown>;
  on: On;
  /** The status of success. */
  ok: 200 | 201 | 202 | 204;
}

const ROUTES: Row[] = [
  { method: 'GET', path: () => '/api/auth/me', scope: null, on: 'caller', ok: 200 },
  { method: 'GET', path: () => '/api/audit/', scope: null, on: 'caller', ok: 200 },
  { method: 'GET', path: () => '/api/research-environments/', scope: null, on: 'caller', ok: 200 },
  { method: 'GET', path: () => '/api/conda/packages/?q=sam', scope: null, on: 'caller', ok: 200 },
  { method: 'GET', path: () => '/api/projects/', scope: 'project:read', on: 'project-list', ok: 200 },
  { method: 'GET', path: () => '/api/projects/by-api-key/', scope: 'project:read', on: 'project-list', ok: 200 },
  { method: 'GET', path: (w) => `/api/projects/${w.project}/`, scope: 'project:read', on: 'project', ok: 200 },
  { method: 'GET', path: (w) => `/api/projects/${w.project}/flavors/`, scope: 'project:read', on: 'project', ok: 200 },
  { method: 'GET', path: (w) => `/api/projects/${w.project}/images/`, scope: 'project:read', on: 'project', ok: 200 },
  { method: 'GET', path: (w) => `/api/projects/${w.project}/snapshots/`, scope: 'project:read', on: 'project', ok: 200 },
  { method: 'GET', path: (w) => `/api/projects/${w.project}/snapshots/images/`, scope: 'project:read', on: 'project', ok: 200 },
  { method: 'GET', path: (w) => `/api/projects/${w.project}/members/`, scope: 'project:read', on: 'project', ok: 200 },
  { method: 'GET', path: (w) => `/api/vms/?project_id=${w.project}`, scope: 'vm:read', on: 'vm-list', ok: 200 },
  { method: 'GET', path: (w) => `/api/vms/by-api-key/?project_id=${w.project}`, scope: 'vm:read', on: 'vm-list', ok: 200 },
  {
    method: 'POST', path: () => '/api/vms/', scope: 'vm:create', on: 'project', ok: 201,
    body: (w) => ({ project_id: w.project, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: unique('vm') }),
  },
  { method: 'GET', path: (w) => `/api/vms/${w.vm}/`, scope: 'vm:read', on: 'vm', ok: 200 },
  { method: 'GET', path: (w) => `/api/vms/${w.vm}/setup/log/`, scope: 'vm:read', on: 'vm', ok: 200 },
  { method: 'POST', path: (w) => `/api/vms/${w.vm}/action/`, scope: 'vm:change_state', on: 'vm', ok: 202, body: () => ({ os_action: 'stop' }) },
  { method: 'DELETE', path: (w) => `/api/vms/${w.vm}/`, scope: 'vm:delete', on: 'vm', ok: 202 },
  {
    method: 'POST', path: () => '/api/snapshots/', scope: 'snapshot:create', on: 'vm', ok: 202,
    body: (w) => ({ snapshot_instance: w.vm, snapshot_name: unique('snap') }),
  },
  { method: 'GET', path: (w) => `/api/volumes/?project_id=${w.project}`, scope: 'volume:read', on: 'volume-list', ok: 200 },
  { method: 'GET', path: (w) => `/api/volumes/by-api-key/?project_id=${w.project}`, scope: 'volume:read', on: 'volume-list', ok: 200 },
  { method: 'POST', path: () => '/api/volumes/', scope: 'volume:create', on: 'project', ok: 201, body: (w) => ({ project_id: w.project, name: unique('vol'), storage: 1 }) },
  { method: 'GET', path: (w) => `/api/volumes/${w.volume}/`, scope: 'volume:read', on: 'volume', ok: 200 },
  { method: 'POST', path: (w) => `/api/volumes/${w.volume}/action/`, scope: 'volume:change_state', on: 'volume', ok: 202, body: () => ({ os_action: 'extend', size: 2 }) },
  { method: 'DELETE', path: (w) => `/api/volumes/${w.volume}/`, scope: 'volume:delete', on: 'volume', ok: 202 },
  { method: 'DELETE', path: (w) => `/api/snapshots/${w.snapshot}/`, scope: 'vm:delete', on: 'snapshot', ok: 204 },
];

/** Routes that no API key may use: public, or for a web session only (tested in keys.test.ts). */
const NOT_FOR_KEYS = [
  'POST /api/auth/login', 'POST /api/auth/logout', 'POST /api/auth/password',
  'GET /api/auth/oidc', 'GET /api/auth/oidc/login', 'GET /api/auth/oidc/callback', 'GET /api/auth/oidc/end-session',
  'GET /api/keys', 'POST /api/keys', 'DELETE /api/keys/{id}', 'POST /api/keys/{id}/rotate', 'POST /api/keys/revoke', 'GET /api/projects/{id}/keys',
  'GET /api/profile/ssh-keys', 'POST /api/profile/ssh-keys', 'DELETE /api/profile/ssh-keys/{id}',
  // Managing a project's members (spec §6): its admins, with a web session.
  'POST /api/projects/{id}/members', 'DELETE /api/projects/{id}/members/{username}',
  // A VM's own first boot reports with its setup token (spec §10); keys and sessions cannot.
  'POST /api/vms/{openstack_id}/setup',
];

/** A row's route as the OpenAPI document names it: `GET /api/vms/{openstack_id}`. */
function template(r: Row): string {
  const w = { project: '{id}', vm: '{openstack_id}', volume: '{openstack_id}', snapshot: '{openstack_id}' } as unknown as World;
  return `${r.method} ${r.path(w).split('?')[0].replace(/\/$/, '')}`;
}

const label = (r: Row) => {
  const w = { project: '{id}', vm: '{vm}', volume: '{volume}', snapshot: '{snapshot}' } as unknown as World;
  return `${r.method} ${r.path(w)}`;
};

let t: TestPortal;
beforeAll(async () => {
  t = await buildTestApp({ SIMPLEVM_RATE_LIMIT: '0', SIMPLEVM_AUTH_FAIL_LIMIT: '0' });
});
afterAll(() => t.close());

// Many worlds share a project: its quota must not be what answers.
const ROOMY = { vms: 10_000, cores: 100_000, ram_gb: 1_000_000, volumes: 10_000, volume_gb: 1_000_000 };

/** A project whose member `owner` made a VM (ACTIVE), a volume (available) and a snapshot of the VM (active) in it. */
async function world(owner: TestUser, project?: { id: number }, admins: TestUser[] = []): Promise<World> {
  const p = project ?? (await t.factory.project({ members: [owner], admins, quota: ROOMY }));
  const [vm, volume] = await Promise.all([t.factory.vm(owner, p.id), t.factory.volume(owner, p.id)]);
  const snap = await t.http.post('/api/snapshots/', { as: owner.session, body: { snapshot_instance: vm.openstack_id, snapshot_name: unique('snap') } });
  if (snap.statusCode !== 202) throw new Error(`snapshot failed: ${snap.statusCode} ${snap.body}`);
  await t.factory.waitFor(owner, `/api/projects/${p.id}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
    list.some((s) => s.openstack_id === snap.data.openstack_id && s.status === 'active'));
  return { project: p.id, vm: vm.openstack_id, volume: volume.openstack_id, snapshot: snap.data.openstack_id };
}

function call(row: Row, w: World, as: As, prefix = '/api') {
  const url = prefix + row.path(w).slice('/api'.length);
  return t.http.request(row.method, url, { as, body: row.body?.(w) });
}

const ids = (results: { openstack_id?: string; id?: number }[]) => results.map((x) => x.openstack_id ?? x.id);

/**
 * The route answers as if the world's objects (`objects`: its VM and volume), or its whole project
 * (`project`), did not exist: 404 for a route that names them, left out of a list.
 */
async function expectOutOfReach(row: Row, w: World, as: As, what: 'objects' | 'project') {
  const listed = row.on === 'vm-list' ? w.vm : row.on === 'volume-list' ? w.volume : null;
  const projectLevel = row.on === 'project' || row.on === 'project-list' || row.on === 'caller';
  // Projects are not owned: an own-objects key reaches the projects of its user.
  if (what === 'objects' && projectLevel) return expectInReach(row, w, as);
  const res = await call(row, w, as);
  const where = `${label(row)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
  if (row.on === 'caller') {
    expect(res.statusCode, where).toBe(row.ok);
  } else if (row.on === 'project-list') {
    expect(res.statusCode, where).toBe(200);
    expect(ids(res.data), where).not.toContain(w.project);
  } else if (listed && what === 'objects') {
    expect(res.statusCode, where).toBe(200);
    expect(ids(res.data.results), where).not.toContain(listed);
  } else {
    expect(res.statusCode, where).toBe(404);
    expect(res.data, where).toEqual({ detail: expect.any(String), code: 'not_found' });
  }
}

async function expectInReach(row: Row, w: World, as: As) {
  const res = await call(row, w, as);
  const where = `${label(row)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
  expect(res.statusCode, where).toBe(row.ok);
  if (row.on === 'vm-list') expect(ids(res.data.results), where).toContain(w.vm);
  if (row.on === 'volume-list') expect(ids(res.data.results), where).toContain(w.volume);
  if (row.on === 'project-list') expect(ids(res.data), where).toContain(w.project);
  if (row.on === 'vm' && row.path(w).endsWith(`/${w.vm}/`)) expect(res.data.openstack_id, where).toBe(w.vm);
  if (row.on === 'volume') expect(res.data.openstack_id, where).toBe(w.volume);
}

describe('every key-usable route', () => {
  it('has a row in the table: a route in the OpenAPI document without a row fails here', async () => {
    const doc = (await t.http.get('/api/openapi.json')).data as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\/$/, '')}`));
    const inTable = ROUTES.map(template);
    const keyUsable = documented.filter((op) => !NOT_FOR_KEYS.includes(op));
    expect([...keyUsable].sort()).toEqual([...inTable].sort());
    // Every scope is needed by some row.
    expect([...new Set(ROUTES.map((r) => r.scope).filter(Boolean))].sort()).toEqual([...ALL_SCOPES].sort());
  });

  describe('without credentials', () => {
    let w: World;
    beforeAll(async () => {
      w = await world(await t.factory.user());
    });
    for (const row of ROUTES) {
      it(`${label(row)} answers 401 not_authenticated, under /api/ and /portal/api/`, async () => {
        for (const prefix of ['/api', '/portal/api']) {
          const res = await call(row, w, null, prefix);
          expect(res.statusCode, prefix).toBe(401);
          expect(res.data).toEqual({ detail: expect.any(String), code: 'not_authenticated' });
        }
      });
    }
  });

  describe('with a key lacking the route\'s scope (it holds every other)', () => {
    let owner: TestUser;
    let w: World;
    beforeAll(async () => {
      owner = await t.factory.user();
      w = await world(owner);
    });
    for (const row of ROUTES.filter((r) => r.scope)) {
      it(`${label(row)} answers 403 insufficient_scope naming ${row.scope}, even with own_objects_only=false`, async () => {
        for (const own of [true, false]) {
          const { key } = await t.factory.key(owner, { scopes: ALL_SCOPES.filter((s) => s !== row.scope), own_objects_only: own });
          for (const as of [{ key }, { bearer: key }]) {
            const res = await call(row, w, as);
            expect(res.statusCode).toBe(403);
            expect(res.data.code).toBe('insufficient_scope');
            expect(res.data.detail).toContain(row.scope);
          }
        }
        // The scope is judged before reach: an object out of reach answers 403 too, not 404.
        const { key } = await t.factory.key(owner, { scopes: ALL_SCOPES.filter((s) => s !== row.scope) });
        const res = await call(row, { project: 2_000_000_000, vm: 'no-such-vm', volume: 'no-such-volume', snapshot: 'no-such-snapshot' }, { key });
        expect(res.data.code).toBe('insufficient_scope');
        // And with the scope alone, the route is open to the key (on a fresh world: it may change state).
        const only = await t.factory.key(owner, { scopes: [row.scope] });
        const target = row.method === 'GET' ? w : await world(owner, { id: w.project });
        const res2 = await call(row, target, { key: only.key });
        expect(res2.statusCode, res2.body).toBe(row.ok);
      });
    }
  });

  describe('another user\'s objects, through a key of a project admin who could otherwise reach them', () => {
    let admin: TestUser;
    let owner: TestUser;
    let shared: World;
    beforeAll(async () => {
      admin = await t.factory.user();
      owner = await t.factory.user();
      shared = await world(owner, undefined, [admin]);
    });

    for (const row of ROUTES.filter((r) => r.on !== 'caller')) {
      it(`${label(row)}: an own-objects key gets 404 (not listed); own_objects_only=false reaches them`, async () => {
        // The admin's session reaches the owner's objects: only the key's flag keeps them out.
        expect((await t.http.get(`/api/vms/${shared.vm}/`, { as: admin.session })).statusCode).toBe(200);
        const own = await t.factory.key(admin);
        await expectOutOfReach(row, shared, { key: own.key }, 'objects');
        // State is untouched by the refused call.
        const vm = await t.http.get(`/api/vms/${shared.vm}/`, { as: owner.session });
        expect(vm.data).toMatchObject({ status: 'ACTIVE', task_state: null });
        const volume = await t.http.get(`/api/volumes/${shared.volume}/`, { as: owner.session });
        expect(volume.data).toMatchObject({ status: 'available', storage: 1 });
        const snapshots = await t.http.get(`/api/projects/${shared.project}/snapshots/`, { as: owner.session });
        expect(ids(snapshots.data)).toContain(shared.snapshot);

        const fresh = await world(owner, { id: shared.project });
        const all = await t.factory.key(admin, { own_objects_only: false });
        await expectInReach(row, fresh, { key: all.key });
      });
    }

    it('an own-objects key still reaches its user\'s own objects in that project', async () => {
      const own = await t.factory.key(admin);
      const mine = await world(admin, { id: shared.project });
      for (const row of ROUTES.filter((r) => r.method === 'GET')) await expectInReach(row, mine, { key: own.key });
    });
  });

  describe('a project-bound key, on another project of its user', () => {
    let user: TestUser;
    let key: string;
    let other: World;
    beforeAll(async () => {
      user = await t.factory.user();
      const home = await t.factory.project({ admins: [user], quota: ROOMY });
      const away = await t.factory.project({ admins: [user], quota: ROOMY });
      // Objects of the key's own user, in a project the user administers: only the binding keeps them out.
      other = await world(user, away);
      key = (await t.factory.key(user, { project_id: home.id, own_objects_only: false })).key;
    });

    for (const row of ROUTES.filter((r) => r.on !== 'caller')) {
      it(`${label(row)} answers 404 (or leaves it out of a list)`, async () => {
        await expectOutOfReach(row, other, { key }, 'project');
      });
    }

    it('while the same user\'s unbound key reaches it all, and the bound key its own project', async () => {
      const unbound = await t.factory.key(user, { own_objects_only: false });
      for (const row of ROUTES.filter((r) => r.method === 'GET')) await expectInReach(row, other, { key: unbound.key });
      const me = await t.http.get('/api/auth/me', { as: { key } });
      const bound = await t.http.get('/api/projects/', { as: { key } });
      expect(bound.data).toHaveLength(1);
      const home = await world(user, { id: bound.data[0].id });
      expect(me.data.api_key).toMatchObject({ own_objects_only: false });
      for (const row of ROUTES.filter((r) => r.method === 'GET')) await expectInReach(row, home, { key });
    });
  });

  describe('a superuser\'s own-objects key, on other users\' objects', () => {
    let superuser: TestUser;
    let owner: TestUser;
    let w: World;
    let key: string;
    beforeAll(async () => {
      superuser = await t.factory.user({ superuser: true });
      owner = await t.factory.user();
      w = await world(owner);
      key = (await t.factory.key(superuser)).key;
    });

    for (const row of ROUTES.filter((r) => r.on === 'vm' || r.on === 'volume' || r.on === 'snapshot' || r.on === 'vm-list' || r.on === 'volume-list')) {
      it(`${label(row)} answers 404 (or leaves them out of a list)`, async () => {
        // Unfiltered lists leave the objects out; project-filtered ones and objects are 404.
        await expectOutOfReach(row, w, { key }, 'project');
        if (row.on.endsWith('-list')) {
          const all = await t.http.get(row.path(w).split('?')[0], { as: { key } });
          expect(all.statusCode).toBe(200);
          expect(ids(all.data.results)).not.toContain(row.on === 'vm-list' ? w.vm : w.volume);
        }
      });
    }

    it('while the superuser\'s session and a key with own_objects_only=false reach them all', async () => {
      const all = await t.factory.key(superuser, { own_objects_only: false });
      for (const row of ROUTES.filter((r) => r.method === 'GET')) {
        await expectInReach(row, w, { key: all.key });
        await expectInReach(row, w, superuser.session);
      }
    });
  });
});
