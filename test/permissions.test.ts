// Route tests (STYLE §9, §10): every resource endpoint of spec §3 with its happy path and each error
// it can answer, generated checks that every row gets (401, 403 csrf/scope/session, 415), the
// permission matrix of §4 through web sessions, reach before validation, the /portal/api/ prefix and
// the optional trailing slash, and pagination. Add a route, add a row.
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumOf } from '../src/server/auth/key-format.js';
import type { Scope } from '../src/shared/contract.js';
import { ALL_SCOPES, type As, type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';

// Hundreds of requests from one client: rate limits must not get in the way of these tests.
const ENV = { SIMPLEVM_AUTH_FAIL_LIMIT: '0', SIMPLEVM_RATE_LIMIT: '0' };
const BIG_QUOTA = { vms: 200, cores: 1000, ram_gb: 4000, volumes: 200, volume_gb: 100_000 };
const NO_SUCH_PROJECT = 2_147_483_647;
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

let t: TestPortal;

/** The shared world: project P (admin, members m1 and m2), project Q (outsider), their objects. */
interface World {
  su: TestUser;
  admin: TestUser;
  m1: TestUser;
  m2: TestUser;
  outsider: TestUser;
  p: { id: number; name: string };
  q: { id: number; name: string };
  vm1: string; // m1's, in P, ACTIVE
  vm2: string; // m2's, in P, ACTIVE
  vmQ: string; // outsider's, in Q, ACTIVE
  vol1: string; // m1's, in P, available
  vol2: string; // m2's, in P, available
  snap1: { openstack_id: string; name: string }; // m1's, of vm1, active
  snap2: { openstack_id: string; name: string }; // m2's, of vm2, active
}
let w: World;

type Res = Awaited<ReturnType<TestPortal['http']['get']>>;

function expectError(res: Res, status: number, code: string): void {
  expect({ status: res.statusCode, code: res.data?.code }, res.body).toEqual({ status, code });
  expect(typeof res.data.detail).toBe('string');
}

function expectInvalid(res: Res, field?: string): void {
  expectError(res, 400, 'invalid');
  if (field) expect(Object.keys(res.data.errors ?? {}), res.body).toContain(field);
}

const vmBody = (projectId: number, extra: Record<string, unknown> = {}) => ({
  project_id: projectId, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: unique('vm'), ...extra,
});
const volumeBody = (projectId: number, extra: Record<string, unknown> = {}) => ({ project_id: projectId, name: unique('vol'), storage: 1, ...extra });

async function snapshotOf(user: TestUser, vmId: string, name = unique('snap')) {
  const res = await t.http.post('/api/snapshots/', { as: user.session, body: { snapshot_instance: vmId, snapshot_name: name } });
  expect(res.statusCode, res.body).toBe(202);
  await t.factory.waitFor(user, `/api/projects/${res.data.project_id}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
    list.some((s) => s.openstack_id === res.data.openstack_id && s.status === 'active'));
  return { openstack_id: res.data.openstack_id as string, name };
}

/** Polls until GET answers 404 (a deleted volume). */
async function waitGone(user: TestUser, url: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if ((await t.http.get(url, { as: user.session })).statusCode === 404) return;
    await new Promise((r) => setTimeout(r, 15));
  }
  throw new Error(`${url} still there`);
}

const ids = (list: { openstack_id: string }[]) => list.map((o) => o.openstack_id);

beforeAll(async () => {
  t = await buildTestApp(ENV);
  const su = await t.factory.user({ superuser: true });
  const admin = await t.factory.user();
  const m1 = await t.factory.user();
  const m2 = await t.factory.user();
  const outsider = await t.factory.user();
  const p = await t.factory.project({ admins: [admin], members: [m1, m2], quota: BIG_QUOTA });
  const q = await t.factory.project({ members: [outsider], quota: BIG_QUOTA });
  const [vm1, vm2, vmQ] = await Promise.all([t.factory.vm(m1, p.id), t.factory.vm(m2, p.id), t.factory.vm(outsider, q.id)]);
  const [vol1, vol2] = await Promise.all([t.factory.volume(m1, p.id), t.factory.volume(m2, p.id)]);
  const snap1 = await snapshotOf(m1, vm1.openstack_id);
  const snap2 = await snapshotOf(m2, vm2.openstack_id);
  w = {
    su, admin, m1, m2, outsider, p, q,
    vm1: vm1.openstack_id, vm2: vm2.openstack_id, vmQ: vmQ.openstack_id,
    vol1: vol1.openstack_id, vol2: vol2.openstack_id, snap1, snap2,
  };
}, 60_000);
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------
// One row per endpoint: generated security checks plus the endpoint's own happy path and errors.
// ---------------------------------------------------------------------------------------------

interface RouteRow {
  route: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** A URL naming objects the superuser reaches (the generated checks fail before any effect). */
  url: () => string;
  auth: 'none' | 'session' | 'any';
  scope?: Scope;
  /** A body that would pass validation. */
  body?: () => Record<string, unknown>;
  /** The route ends the session it is called with (the generated checks then use a fresh one). */
  endsSession?: boolean;
  cases: Record<string, () => Promise<void>>;
}

const keysWithout = new Map<string, Promise<string>>();
/** A superuser key with every scope but `scope`, reaching everything else. */
function keyWithout(scope: Scope): Promise<string> {
  if (!keysWithout.has(scope)) {
    keysWithout.set(scope, t.factory.key(w.su, { scopes: ALL_SCOPES.filter((s) => s !== scope), own_objects_only: false }).then((k) => k.key));
  }
  return keysWithout.get(scope) as Promise<string>;
}

let fullKey: Promise<string> | null = null;
const suKey = () => (fullKey ??= t.factory.key(w.su, { own_objects_only: false }).then((k) => k.key));

function wellFormedUnknownKey(): string {
  const body = `svm_Abcdefgh_${'x'.repeat(32)}`;
  return body + checksumOf(body);
}

/** The superuser's session, or a fresh one of theirs for a route that could end it. */
async function sessionFor(row: RouteRow): Promise<{ cookie: string; csrf: string }> {
  return row.endsSession ? t.factory.login(w.su.username) : w.su.session;
}

function generatedCases(row: RouteRow): Record<string, () => Promise<void>> {
  const cases: Record<string, () => Promise<void>> = {};
  const send = (call: { as?: As; headers?: Record<string, string> }) =>
    t.http.request(row.method, row.url(), { ...call, body: row.method === 'POST' ? row.body?.() ?? {} : undefined });
  if (row.auth !== 'none') {
    cases['401 not_authenticated without credentials, or with a bad key (one identical body)'] = async () => {
      const anonymous = await send({ as: null });
      expectError(anonymous, 401, 'not_authenticated');
      const malformed = await send({ as: { key: 'svm_not-a-key' } });
      const unknown = await send({ as: { bearer: wellFormedUnknownKey() } });
      expectError(malformed, 401, 'not_authenticated');
      expect(unknown.statusCode).toBe(401);
      expect(unknown.data).toEqual(malformed.data);
    };
  }
  if (row.auth !== 'none' && row.method !== 'GET') {
    cases['403 csrf_failed for a session without, or with a wrong, X-CSRF-Token'] = async () => {
      const session = await sessionFor(row);
      expectError(await send({ headers: { cookie: session.cookie } }), 403, 'csrf_failed');
      expectError(await send({ headers: { cookie: session.cookie, 'x-csrf-token': `${session.csrf}x` } }), 403, 'csrf_failed');
      expect((await t.http.get('/api/auth/me', { as: session })).statusCode).toBe(200); // nothing happened to the session
    };
  }
  if (row.scope) {
    const scope = row.scope;
    cases[`403 insufficient_scope for a key without ${scope}`] = async () => {
      const res = await send({ as: { key: await keyWithout(scope) } });
      expectError(res, 403, 'insufficient_scope');
      expect(res.data.detail).toContain(scope);
    };
  }
  if (row.auth === 'session') {
    cases['403 session_required for an API key'] = async () => {
      expectError(await send({ as: { key: await suKey() } }), 403, 'session_required');
    };
  }
  if (row.method === 'POST') {
    cases['415 unsupported_media_type for a text/plain body'] = async () => {
      const session = await sessionFor(row);
      const plain = await t.app.inject({
        method: 'POST', url: row.url(), payload: JSON.stringify(row.body?.() ?? {}),
        headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'text/plain' },
      });
      expect(plain.statusCode, plain.body).toBe(415);
      expect(plain.json()).toMatchObject({ code: 'unsupported_media_type', detail: expect.any(String) });
    };
  }
  return cases;
}

const ROUTES: RouteRow[] = [
  {
    route: 'POST /api/auth/login',
    method: 'POST',
    url: () => '/api/auth/login',
    auth: 'none',
    body: () => ({ username: w.m1.username, password: 'correct horse battery staple' }),
    cases: {
      '200 the user and a CSRF token, with an HttpOnly SameSite=Lax session cookie (JSON and form)': async () => {
        for (const form of [false, true]) {
          const res = await t.http.post('/api/auth/login', { form, body: { username: w.m1.username, password: 'correct horse battery staple' } });
          expect(res.statusCode).toBe(200);
          expect(res.data).toEqual({ user: { username: w.m1.username, is_superuser: false }, csrf_token: expect.any(String) });
          const cookie = res.cookies.find((c) => c.name === 'simplevm_session');
          expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
          const me = await t.http.get('/api/auth/me', { headers: { cookie: `simplevm_session=${cookie?.value}` } });
          expect(me.data.username).toBe(w.m1.username);
        }
      },
      '400 invalid: missing or mistyped fields': async () => {
        expectInvalid(await t.http.post('/api/auth/login', { body: { username: w.m1.username } }), 'password');
        expectInvalid(await t.http.post('/api/auth/login', { body: { username: 42, password: 'x' } }), 'username');
        expectInvalid(await t.http.post('/api/auth/login', { body: ['not', 'an', 'object'] }));
      },
      '401 not_authenticated: wrong password and unknown user answer alike': async () => {
        const wrong = await t.http.post('/api/auth/login', { body: { username: w.m1.username, password: 'nope' } });
        const unknown = await t.http.post('/api/auth/login', { body: { username: unique('ghost'), password: 'nope' } });
        expectError(wrong, 401, 'not_authenticated');
        expect(unknown.statusCode).toBe(401);
        expect(unknown.data).toEqual(wrong.data);
        expect(wrong.cookies.find((c) => c.name === 'simplevm_session')).toBeUndefined();
      },
    },
  },
  {
    route: 'POST /api/auth/logout',
    method: 'POST',
    url: () => '/api/auth/logout',
    auth: 'session',
    endsSession: true,
    cases: {
      '204, and the session is dead afterwards': async () => {
        const session = await t.factory.login(w.m2.username);
        const res = await t.http.post('/api/auth/logout', { as: session });
        expect(res.statusCode).toBe(204);
        expect(res.body).toBe('');
        expectError(await t.http.get('/api/auth/me', { as: session }), 401, 'not_authenticated');
        expect((await t.http.get('/api/auth/me', { as: w.m2.session })).statusCode).toBe(200); // other sessions live on
      },
    },
  },
  {
    route: 'GET /api/auth/me',
    method: 'GET',
    url: () => '/api/auth/me',
    auth: 'any',
    cases: {
      '200 for a session: api_key null': async () => {
        const res = await t.http.get('/api/auth/me', { as: w.admin.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toMatchObject({ username: w.admin.username, is_superuser: false, api_key: null });
      },
      '200 for a key: the key\'s prefix, scopes and own-objects flag': async () => {
        const k = await t.factory.key(w.m1, { scopes: ['vm:read'] });
        const res = await t.http.get('/api/auth/me', { as: { bearer: k.key } });
        expect(res.statusCode).toBe(200);
        expect(res.data).toMatchObject({ username: w.m1.username, is_superuser: false, api_key: { prefix: k.prefix, scopes: ['vm:read'], own_objects_only: true } });
        expect(res.body).not.toContain(k.key);
      },
    },
  },
  {
    route: 'POST /api/auth/password',
    method: 'POST',
    url: () => '/api/auth/password',
    auth: 'session',
    // Never the right current password: the generated checks must not change the superuser's.
    body: () => ({ current_password: 'not the password', new_password: 'a new password, long enough' }),
    cases: {
      '204: the new password holds; the other sessions end, the one that asked stays (spec §6)': async () => {
        const user = await t.factory.user();
        const other = await t.factory.login(user.username);
        const res = await t.http.post('/api/auth/password', { as: user.session, form: true, body: { current_password: 'correct horse battery staple', new_password: 'another horse, twelve+' } });
        expect(res.statusCode, res.body).toBe(204);
        expect(res.body).toBe('');
        expect((await t.http.get('/api/auth/me', { as: user.session })).statusCode).toBe(200);
        expectError(await t.http.get('/api/auth/me', { as: other }), 401, 'not_authenticated');
        await t.factory.login(user.username, 'another horse, twelve+');
      },
      '400 invalid: a wrong current password, a new one under 12 characters, missing fields': async () => {
        expectInvalid(await t.http.post('/api/auth/password', { as: w.m1.session, body: { current_password: 'wrong', new_password: 'a new password, long enough' } }), 'current_password');
        expectInvalid(await t.http.post('/api/auth/password', { as: w.m1.session, body: { current_password: 'correct horse battery staple', new_password: 'short' } }), 'new_password');
        expectInvalid(await t.http.post('/api/auth/password', { as: w.m1.session, body: {} }));
        await t.factory.login(w.m1.username); // unchanged
      },
    },
  },
  {
    route: 'GET /api/research-environments/',
    method: 'GET',
    url: () => '/api/research-environments/',
    auth: 'any',
    cases: {
      '200 the templates (built in here), for a session and for a key of any scope (spec §9)': async () => {
        const k = await t.factory.key(w.m1, { scopes: ['volume:read'] });
        for (const as of [w.m1.session, w.outsider.session, { key: k.key }, { bearer: k.key }]) {
          const res = await t.http.get('/api/research-environments/', { as });
          expect(res.statusCode, res.body).toBe(200);
          expect(res.data.map((e: { template: string }) => e.template)).toEqual(['rstudio', 'jupyterlab', 'theia', 'theiaide', 'vscode', 'guacamole']);
          expect(res.data[0]).toEqual({ template: 'rstudio', title: 'RStudio', description: expect.any(String), port: 8787, image_tag: 'rstudio' });
        }
      },
    },
  },
  {
    route: 'GET /api/conda/packages/',
    method: 'GET',
    url: () => '/api/conda/packages/?q=samtools',
    auth: 'any',
    cases: {
      '200 the catalogue\'s matches, the exact name first, for a session and for a key of any scope (spec §10)': async () => {
        const k = await t.factory.key(w.m1, { scopes: ['volume:read'] });
        for (const as of [w.m1.session, w.outsider.session, { key: k.key }, { bearer: k.key }]) {
          const res = await t.http.get('/api/conda/packages/?q=samtools', { as });
          expect(res.statusCode, res.body).toBe(200);
          expect(res.data[0]).toEqual({ name: 'samtools', versions: expect.arrayContaining([expect.any(String)]), channel: 'bioconda' });
        }
      },
      '200 at most 50; 400 invalid for a q of more than 100 characters': async () => {
        expect((await t.http.get('/api/conda/packages/', { as: w.m1.session })).data).toHaveLength(50);
        expectInvalid(await t.http.get(`/api/conda/packages/?q=${'x'.repeat(101)}`, { as: w.m1.session }), 'q');
      },
    },
  },
  {
    route: 'GET /api/projects/',
    method: 'GET',
    url: () => '/api/projects/',
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 a plain array of the caller\'s projects with its role; all of them for a superuser': async () => {
        const names = async (u: TestUser) => {
          const res = await t.http.get('/api/projects/', { as: u.session });
          expect(res.statusCode).toBe(200);
          expect(Array.isArray(res.data)).toBe(true);
          return res.data as { id: number; name: string; role: string | null }[];
        };
        const m1 = (await names(w.m1)).map((p) => [p.id, p.role]);
        expect(m1).toContainEqual([w.p.id, 'member']);
        expect(m1.map(([id]) => id)).not.toContain(w.q.id);
        expect((await names(w.admin)).map((p) => [p.id, p.role])).toEqual([[w.p.id, 'admin']]);
        expect((await names(w.outsider)).map((p) => p.id)).toEqual([w.q.id]);
        expect((await names(w.su)).map((p) => p.id)).toEqual(expect.arrayContaining([w.p.id, w.q.id]));
      },
    },
  },
  {
    route: 'GET /api/projects/by-api-key/',
    method: 'GET',
    url: () => '/api/projects/by-api-key/',
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 the same array as GET /api/projects/ (SimpleVM\'s name for it, spec §8)': async () => {
        for (const u of [w.m1, w.outsider, w.su]) {
          const res = await t.http.get('/api/projects/by-api-key/', { as: u.session });
          expect(res.statusCode).toBe(200);
          expect(res.data).toEqual((await t.http.get('/api/projects/', { as: u.session })).data);
        }
      },
      '200 one project for a key bound to it': async () => {
        const k = await t.factory.key(w.admin, { project_id: w.p.id });
        const res = await t.http.get('/api/projects/by-api-key/', { as: { key: k.key } });
        expect(res.data.map((p: { id: number }) => p.id)).toEqual([w.p.id]);
      },
    },
  },
  {
    route: 'GET /api/projects/{id}/',
    method: 'GET',
    url: () => `/api/projects/${w.p.id}/`,
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 the project with role, quota and usage': async () => {
        const res = await t.http.get(`/api/projects/${w.p.id}/`, { as: w.m1.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toMatchObject({ id: w.p.id, name: w.p.name, description: expect.any(String), role: 'member', quota: BIG_QUOTA });
        expect(Object.keys(res.data.usage).sort()).toEqual(['cores', 'ram_gb', 'vms', 'volume_gb', 'volumes']);
        expect(res.data.usage.vms).toBeGreaterThanOrEqual(2);
      },
      '404 not_found: no such project': async () => {
        expectError(await t.http.get(`/api/projects/${NO_SUCH_PROJECT}/`, { as: w.su.session }), 404, 'not_found');
      },
      '404 not_found: an id that is not a number names no project (issue 16)': async () => {
        expectError(await t.http.get('/api/projects/abc/', { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/projects/{id}/flavors/',
    method: 'GET',
    url: () => `/api/projects/${w.p.id}/flavors/`,
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 the de.NBI flavors': async () => {
        const res = await t.http.get(`/api/projects/${w.p.id}/flavors/`, { as: w.m2.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toEqual(expect.arrayContaining([
          { name: 'de.NBI tiny', vcpus: 1, ram_gb: 2, disk_gb: 20 },
          { name: 'de.NBI small', vcpus: 2, ram_gb: 4, disk_gb: 20 },
          { name: 'de.NBI medium', vcpus: 4, ram_gb: 8, disk_gb: 20 },
          { name: 'de.NBI large', vcpus: 8, ram_gb: 16, disk_gb: 20 },
        ]));
      },
      '404 not_found: no such project': async () => {
        expectError(await t.http.get(`/api/projects/${NO_SUCH_PROJECT}/flavors/`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/projects/{id}/images/',
    method: 'GET',
    url: () => `/api/projects/${w.p.id}/images/`,
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 the images with tags, and the project\'s active snapshots': async () => {
        const res = await t.http.get(`/api/projects/${w.p.id}/images/`, { as: w.admin.session });
        expect(res.statusCode).toBe(200);
        const names = res.data.map((i: { name: string }) => i.name);
        expect(names).toEqual(expect.arrayContaining(['Ubuntu-22.04', 'Ubuntu-24.04', 'Debian-12', w.snap1.name, w.snap2.name]));
        for (const image of res.data) expect(Array.isArray(image.tags)).toBe(true);
        const inQ = await t.http.get(`/api/projects/${w.q.id}/images/`, { as: w.su.session });
        expect(inQ.data.map((i: { name: string }) => i.name)).not.toContain(w.snap1.name);
      },
      '404 not_found: no such project': async () => {
        expectError(await t.http.get(`/api/projects/${NO_SUCH_PROJECT}/images/`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/projects/{id}/snapshots/',
    method: 'GET',
    url: () => `/api/projects/${w.p.id}/snapshots/`,
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 a plain array of the project\'s snapshots': async () => {
        const res = await t.http.get(`/api/projects/${w.p.id}/snapshots/`, { as: w.su.session });
        expect(res.statusCode).toBe(200);
        expect(ids(res.data).sort()).toEqual([w.snap1.openstack_id, w.snap2.openstack_id].sort());
        expect(res.data.find((s: { openstack_id: string }) => s.openstack_id === w.snap1.openstack_id)).toMatchObject({
          name: w.snap1.name, project_id: w.p.id, owner: w.m1.username, vm_openstack_id: w.vm1, status: 'active',
        });
      },
      '404 not_found: no such project': async () => {
        expectError(await t.http.get(`/api/projects/${NO_SUCH_PROJECT}/snapshots/`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/projects/{id}/snapshots/images/',
    method: 'GET',
    url: () => `/api/projects/${w.p.id}/snapshots/images/`,
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 the same array as GET /api/projects/{id}/snapshots/ (spec §8)': async () => {
        for (const u of [w.m1, w.admin]) {
          const res = await t.http.get(`/api/projects/${w.p.id}/snapshots/images/`, { as: u.session });
          expect(res.statusCode).toBe(200);
          expect(res.data).toEqual((await t.http.get(`/api/projects/${w.p.id}/snapshots/`, { as: u.session })).data);
        }
        expect(ids((await t.http.get(`/api/projects/${w.p.id}/snapshots/images/`, { as: w.m1.session })).data)).toContain(w.snap1.openstack_id);
      },
      '404 not_found: no such project, or one out of reach': async () => {
        expectError(await t.http.get(`/api/projects/${NO_SUCH_PROJECT}/snapshots/images/`, { as: w.su.session }), 404, 'not_found');
        expectError(await t.http.get(`/api/projects/${w.p.id}/snapshots/images/`, { as: w.outsider.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/projects/{id}/keys/',
    method: 'GET',
    url: () => `/api/projects/${w.p.id}/keys/`,
    auth: 'session',
    cases: {
      '200 the caller\'s live keys bound to the project, and no others': async () => {
        const bound = await t.factory.key(w.m2, { project_id: w.p.id });
        const unbound = await t.factory.key(w.m2);
        const res = await t.http.get(`/api/projects/${w.p.id}/keys/`, { as: w.m2.session });
        expect(res.statusCode).toBe(200);
        const listed = res.data.map((k: { id: number }) => k.id);
        expect(listed).toContain(bound.id);
        expect(listed).not.toContain(unbound.id);
        for (const k of res.data) expect(k).toMatchObject({ project_id: w.p.id, prefix: expect.any(String) });
        expect(res.body).not.toContain(bound.key);
      },
      '404 not_found: no such project, or one out of reach': async () => {
        expectError(await t.http.get(`/api/projects/${NO_SUCH_PROJECT}/keys/`, { as: w.su.session }), 404, 'not_found');
        expectError(await t.http.get(`/api/projects/${w.q.id}/keys/`, { as: w.m1.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/projects/{id}/members/',
    method: 'GET',
    url: () => `/api/projects/${w.p.id}/members/`,
    auth: 'any',
    scope: 'project:read',
    cases: {
      '200 [{username, role}] of every member, to anyone who reaches the project': async () => {
        for (const u of [w.m1, w.admin, w.su]) {
          const res = await t.http.get(`/api/projects/${w.p.id}/members/`, { as: u.session });
          expect(res.statusCode).toBe(200);
          expect(res.data).toEqual(expect.arrayContaining([
            { username: w.admin.username, role: 'admin' }, { username: w.m1.username, role: 'member' }, { username: w.m2.username, role: 'member' },
          ]));
          expect(res.data).toHaveLength(3);
        }
      },
      '404 not_found: no such project, or one out of reach': async () => {
        expectError(await t.http.get(`/api/projects/${NO_SUCH_PROJECT}/members/`, { as: w.su.session }), 404, 'not_found');
        expectError(await t.http.get(`/api/projects/${w.p.id}/members/`, { as: w.outsider.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'POST /api/projects/{id}/members/',
    method: 'POST',
    url: () => `/api/projects/${w.p.id}/members/`,
    auth: 'session',
    body: () => ({ username: w.m1.username, role: 'member' }),
    cases: {
      '201 a new member, 200 a role set; the project\'s admin and a superuser may': async () => {
        const project = await t.factory.project({ admins: [w.admin] });
        const url = `/api/projects/${project.id}/members/`;
        const added = await t.http.post(url, { as: w.admin.session, body: { username: w.m2.username, role: 'member' } });
        expect(added.statusCode, added.body).toBe(201);
        expect(added.data).toEqual({ username: w.m2.username, role: 'member' });
        const set = await t.http.post(url, { as: w.su.session, form: true, body: { username: w.m2.username, role: 'admin' } });
        expect(set.statusCode, set.body).toBe(200);
        expect(set.data).toEqual({ username: w.m2.username, role: 'admin' });
      },
      '400 invalid: an unknown user, a role that is none': async () => {
        expectInvalid(await t.http.post(`/api/projects/${w.p.id}/members/`, { as: w.admin.session, body: { username: unique('ghost'), role: 'member' } }), 'username');
        expectInvalid(await t.http.post(`/api/projects/${w.p.id}/members/`, { as: w.admin.session, body: { username: w.m1.username, role: 'owner' } }), 'role');
      },
      '403 permission_denied for a member who is not the project\'s admin; 404 for an outsider': async () => {
        expectError(await t.http.post(`/api/projects/${w.p.id}/members/`, { as: w.m1.session, body: { username: w.m1.username, role: 'admin' } }), 403, 'permission_denied');
        expectError(await t.http.post(`/api/projects/${w.p.id}/members/`, { as: w.outsider.session, body: { username: w.outsider.username, role: 'admin' } }), 404, 'not_found');
        expectError(await t.http.post(`/api/projects/${NO_SUCH_PROJECT}/members/`, { as: w.su.session, body: { username: w.m1.username, role: 'admin' } }), 404, 'not_found');
      },
      '409 invalid_state: demoting the project\'s last admin': async () => {
        expectError(await t.http.post(`/api/projects/${w.p.id}/members/`, { as: w.admin.session, body: { username: w.admin.username, role: 'member' } }), 409, 'invalid_state');
      },
    },
  },
  {
    route: 'DELETE /api/projects/{id}/members/{username}/',
    method: 'DELETE',
    url: () => `/api/projects/${w.p.id}/members/${w.m2.username}/`,
    auth: 'session',
    cases: {
      '204, then 404: the member is gone': async () => {
        const project = await t.factory.project({ admins: [w.admin], members: [w.m2] });
        const url = `/api/projects/${project.id}/members/${w.m2.username}/`;
        const res = await t.http.delete(url, { as: w.admin.session });
        expect(res.statusCode, res.body).toBe(204);
        expect(res.body).toBe('');
        expectError(await t.http.delete(url, { as: w.admin.session }), 404, 'not_found');
        expectError(await t.http.get(`/api/projects/${project.id}/`, { as: w.m2.session }), 404, 'not_found');
      },
      '403 permission_denied for a member; 404 for an outsider, an unknown member or project; 409 for the last admin': async () => {
        expectError(await t.http.delete(`/api/projects/${w.p.id}/members/${w.m2.username}/`, { as: w.m1.session }), 403, 'permission_denied');
        expectError(await t.http.delete(`/api/projects/${w.p.id}/members/${w.m2.username}/`, { as: w.outsider.session }), 404, 'not_found');
        expectError(await t.http.delete(`/api/projects/${w.p.id}/members/${w.outsider.username}/`, { as: w.admin.session }), 404, 'not_found');
        expectError(await t.http.delete(`/api/projects/${NO_SUCH_PROJECT}/members/${w.m2.username}/`, { as: w.su.session }), 404, 'not_found');
        expectError(await t.http.delete(`/api/projects/${w.p.id}/members/${w.admin.username}/`, { as: w.su.session }), 409, 'invalid_state');
      },
    },
  },
  {
    route: 'GET /api/profile/ssh-keys/',
    method: 'GET',
    url: () => '/api/profile/ssh-keys/',
    auth: 'session',
    cases: {
      '200 the caller\'s own public SSH keys, and no one else\'s (spec §9)': async () => {
        const mine = await t.http.post('/api/profile/ssh-keys/', { as: w.m2.session, body: { name: unique('ssh'), generate: true } });
        expect(mine.statusCode, mine.body).toBe(201);
        const res = await t.http.get('/api/profile/ssh-keys/', { as: w.m2.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toContainEqual({ id: mine.data.id, name: mine.data.name, type: 'ssh-ed25519', fingerprint: mine.data.fingerprint, created_at: mine.data.created_at });
        for (const u of [w.m1, w.admin, w.su]) {
          const theirs = await t.http.get('/api/profile/ssh-keys/', { as: u.session });
          expect(theirs.data.map((k: { id: number }) => k.id)).not.toContain(mine.data.id);
        }
      },
    },
  },
  {
    route: 'POST /api/profile/ssh-keys/',
    method: 'POST',
    url: () => '/api/profile/ssh-keys/',
    auth: 'session',
    body: () => ({ name: unique('ssh'), generate: true }),
    cases: {
      '201 a generated key pair (the private key this once), and a pasted key (JSON and form)': async () => {
        const made = await t.http.post('/api/profile/ssh-keys/', { as: w.m1.session, body: { name: 'laptop', generate: true } });
        expect(made.statusCode, made.body).toBe(201);
        expect(made.data).toMatchObject({ name: 'laptop', type: 'ssh-ed25519', fingerprint: expect.stringMatching(/^SHA256:/), private_key: expect.stringContaining('OPENSSH PRIVATE KEY') });
        for (const [form, u] of [[false, w.m2], [true, w.admin]] as const) {
          const pasted = await t.http.post('/api/profile/ssh-keys/', { as: u.session, form, body: { name: 'pasted', public_key: made.data.public_key } });
          expect(pasted.statusCode, pasted.body).toBe(201);
          expect(pasted.data).toMatchObject({ type: 'ssh-ed25519', fingerprint: made.data.fingerprint });
          expect(pasted.data.private_key).toBeUndefined();
        }
      },
      '400 invalid: a malformed or duplicate key, no key, a bad name': async () => {
        const made = await t.http.post('/api/profile/ssh-keys/', { as: w.m1.session, body: { name: unique('ssh'), generate: true } });
        const bad: [Record<string, unknown>, string][] = [
          [{ name: 'k', public_key: 'ssh-ed25519 AAAA' }, 'public_key'],
          [{ name: 'k', public_key: made.data.public_key }, 'public_key'],
          [{ name: 'k' }, 'public_key'],
          [{ name: '', generate: true }, 'name'],
          [{ name: 'tab\there', generate: true }, 'name'],
          [{ name: 'n'.repeat(101), generate: true }, 'name'],
        ];
        for (const [body, field] of bad) expectInvalid(await t.http.post('/api/profile/ssh-keys/', { as: w.m1.session, body }), field);
      },
    },
  },
  {
    route: 'DELETE /api/profile/ssh-keys/{id}/',
    method: 'DELETE',
    url: () => '/api/profile/ssh-keys/1/',
    auth: 'session',
    cases: {
      '204, then 404; another user\'s key is 404 and stays': async () => {
        const made = await t.http.post('/api/profile/ssh-keys/', { as: w.m2.session, body: { name: unique('ssh'), generate: true } });
        for (const u of [w.m1, w.admin, w.su]) expectError(await t.http.delete(`/api/profile/ssh-keys/${made.data.id}/`, { as: u.session }), 404, 'not_found');
        const res = await t.http.delete(`/api/profile/ssh-keys/${made.data.id}/`, { as: w.m2.session });
        expect(res.statusCode).toBe(204);
        expect(res.body).toBe('');
        expectError(await t.http.delete(`/api/profile/ssh-keys/${made.data.id}/`, { as: w.m2.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/vms/',
    method: 'GET',
    url: () => '/api/vms/',
    auth: 'any',
    scope: 'vm:read',
    cases: {
      '200 a page of VMs, filtered by project, status and text': async () => {
        const res = await t.http.get(`/api/vms/?project_id=${w.p.id}&status=ACTIVE`, { as: w.admin.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toMatchObject({ count: expect.any(Number), next: null, previous: null });
        expect(ids(res.data.results)).toEqual(expect.arrayContaining([w.vm1, w.vm2]));
        const vm1 = res.data.results.find((v: { openstack_id: string }) => v.openstack_id === w.vm1);
        expect(Object.keys(vm1)).toEqual(expect.arrayContaining([
          'openstack_id', 'name', 'project_id', 'owner', 'image_name', 'flavor_name', 'status', 'task_state', 'fixed_ip', 'volumes', 'created_at', 'updated_at',
        ]));
        const byText = await t.http.get(`/api/vms/?text=${encodeURIComponent(vm1.name.slice(1).toUpperCase())}`, { as: w.admin.session });
        expect(ids(byText.data.results)).toEqual([w.vm1]);
        const shutoff = await t.http.get(`/api/vms/?project_id=${w.p.id}&status=SHUTOFF`, { as: w.admin.session });
        expect(ids(shutoff.data.results)).not.toContain(w.vm1);
      },
      '400 invalid: page_size over 500, page 0, non-numeric page or project_id': async () => {
        for (const qs of ['page_size=501', 'page_size=0', 'page=0', 'page=abc', 'project_id=abc']) {
          expectInvalid(await t.http.get(`/api/vms/?${qs}`, { as: w.su.session }), qs.split('=')[0]);
        }
      },
      '404 not_found: a project_id out of reach': async () => {
        expectError(await t.http.get(`/api/vms/?project_id=${w.p.id}`, { as: w.outsider.session }), 404, 'not_found');
        expectError(await t.http.get(`/api/vms/?project_id=${NO_SUCH_PROJECT}`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/vms/by-api-key/',
    method: 'GET',
    url: () => '/api/vms/by-api-key/',
    auth: 'any',
    scope: 'vm:read',
    cases: {
      '200 a page of VMs as GET /api/vms/ answers, with its filters, ?owner and ?openstack_id among them (spec §8)': async () => {
        const res = await t.http.get(`/api/vms/by-api-key/?project_id=${w.p.id}&status=ACTIVE`, { as: w.admin.session });
        expect(res.statusCode).toBe(200);
        const original = await t.http.get(`/api/vms/?project_id=${w.p.id}&status=ACTIVE`, { as: w.admin.session });
        expect(res.data.count).toBe(original.data.count);
        expect(ids(res.data.results)).toEqual(ids(original.data.results));
        expect(ids((await t.http.get(`/api/vms/by-api-key/?owner=${w.m2.username}&project_id=${w.p.id}`, { as: w.admin.session })).data.results)).not.toContain(w.vm1);
        expect(ids((await t.http.get(`/api/vms/by-api-key/?openstack_id=${w.vm1}`, { as: w.admin.session })).data.results)).toEqual([w.vm1]);
        expect(ids((await t.http.get(`/api/vms/by-api-key/?text=${w.vm2.slice(-12).toUpperCase()}`, { as: w.admin.session })).data.results)).toEqual([w.vm2]);
      },
      '400 invalid: page_size over 500, a non-numeric project_id': async () => {
        for (const qs of ['page_size=501', 'project_id=abc']) {
          expectInvalid(await t.http.get(`/api/vms/by-api-key/?${qs}`, { as: w.su.session }), qs.split('=')[0]);
        }
      },
      '404 not_found: a project_id out of reach': async () => {
        expectError(await t.http.get(`/api/vms/by-api-key/?project_id=${w.p.id}`, { as: w.outsider.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'POST /api/vms/',
    method: 'POST',
    url: () => '/api/vms/',
    auth: 'any',
    scope: 'vm:create',
    body: () => vmBody(w.p.id),
    cases: {
      '201 the VM in BUILD, owned by its creator (JSON and form)': async () => {
        const res = await t.http.post('/api/vms/', { as: w.m1.session, body: vmBody(w.p.id, { vm_name: 'json-vm', flavor_name: 'de.NBI small' }) });
        expect(res.statusCode).toBe(201);
        expect(res.data).toMatchObject({
          name: 'json-vm', project_id: w.p.id, owner: w.m1.username, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI small', status: 'BUILD', task_state: 'spawning', volumes: [],
        });
        const form = await t.http.post('/api/vms/', { as: w.m1.session, form: true, body: vmBody(w.p.id, { vm_name: 'form-vm' }) });
        expect(form.statusCode).toBe(201);
        expect(form.data).toMatchObject({ name: 'form-vm', project_id: w.p.id, status: 'BUILD' });
      },
      '400 invalid: missing fields, wrong types, bad vm_name': async () => {
        const as = w.m1.session;
        const bad: [Record<string, unknown>, string][] = [
          [{ image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: 'x' }, 'project_id'],
          [vmBody(w.p.id, { vm_name: undefined }), 'vm_name'],
          [vmBody(w.p.id, { vm_name: '-starts-with-dash' }), 'vm_name'],
          [vmBody(w.p.id, { vm_name: 'has space' }), 'vm_name'],
          [vmBody(w.p.id, { vm_name: 'x'.repeat(64) }), 'vm_name'],
          [vmBody(w.p.id, { image_name: 7 }), 'image_name'],
          [vmBody(w.p.id, { flavor_name: null }), 'flavor_name'],
          [vmBody(String(w.p.id) as unknown as number), 'project_id'], // JSON types are not coerced
        ];
        for (const [body, field] of bad) expectInvalid(await t.http.post('/api/vms/', { as, body }), field);
      },
      '400 invalid: unknown image or flavor': async () => {
        expectInvalid(await t.http.post('/api/vms/', { as: w.m1.session, body: vmBody(w.p.id, { image_name: 'Windows-95' }) }), 'image_name');
        expectInvalid(await t.http.post('/api/vms/', { as: w.m1.session, body: vmBody(w.p.id, { flavor_name: 'de.NBI huge' }) }), 'flavor_name');
      },
      '201 from an active snapshot of the project; 400 from another project\'s snapshot': async () => {
        const res = await t.http.post('/api/vms/', { as: w.m1.session, body: vmBody(w.p.id, { image_name: w.snap1.name }) });
        expect(res.statusCode, res.body).toBe(201);
        expect(res.data.image_name).toBe(w.snap1.name);
        expectInvalid(await t.http.post('/api/vms/', { as: w.su.session, body: vmBody(w.q.id, { image_name: w.snap1.name }) }), 'image_name');
      },
      '404 not_found: a project the caller does not belong to, or none at all': async () => {
        expectError(await t.http.post('/api/vms/', { as: w.m1.session, body: vmBody(w.q.id) }), 404, 'not_found');
        expectError(await t.http.post('/api/vms/', { as: w.su.session, body: vmBody(NO_SUCH_PROJECT) }), 404, 'not_found');
      },
      '409 quota_exceeded once the project is full': async () => {
        const small = await t.factory.project({ members: [w.m1], quota: { vms: 1 } });
        expect((await t.http.post('/api/vms/', { as: w.m1.session, body: vmBody(small.id) })).statusCode).toBe(201);
        expectError(await t.http.post('/api/vms/', { as: w.m1.session, body: vmBody(small.id) }), 409, 'quota_exceeded');
      },
    },
  },
  {
    route: 'GET /api/vms/{openstack_id}/',
    method: 'GET',
    url: () => `/api/vms/${w.vm1}/`,
    auth: 'any',
    scope: 'vm:read',
    cases: {
      '200 the VM': async () => {
        const res = await t.http.get(`/api/vms/${w.vm1}/`, { as: w.m1.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toMatchObject({ openstack_id: w.vm1, project_id: w.p.id, owner: w.m1.username, status: 'ACTIVE', task_state: null, fixed_ip: expect.any(String) });
      },
      '404 not_found: no such VM': async () => {
        expectError(await t.http.get(`/api/vms/${NO_SUCH_ID}/`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'POST /api/vms/{openstack_id}/action/',
    method: 'POST',
    url: () => `/api/vms/${w.vm1}/action/`,
    auth: 'any',
    scope: 'vm:change_state',
    body: () => ({ os_action: 'stop' }),
    cases: {
      '202 the VM with its task_state set (JSON and form)': async () => {
        const vm = await t.factory.vm(w.m1, w.p.id);
        const stop = await t.http.post(`/api/vms/${vm.openstack_id}/action/`, { as: w.m1.session, body: { os_action: 'stop' } });
        expect(stop.statusCode).toBe(202);
        expect(stop.data).toMatchObject({ openstack_id: vm.openstack_id, task_state: 'powering-off' });
        await t.factory.waitFor(w.m1, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
        const resume = await t.http.post(`/api/vms/${vm.openstack_id}/action/`, { as: w.m1.session, form: true, body: { os_action: 'resume' } });
        expect(resume.statusCode).toBe(202);
        expect(resume.data.task_state).toBe('powering-on');
      },
      '400 invalid: unknown or missing os_action, bad reboot_type': async () => {
        const url = `/api/vms/${w.vm1}/action/`;
        for (const body of [{ os_action: 'explode' }, {}, { os_action: 'reboot', reboot_type: 'GENTLE' }, { os_action: ['stop'] }, { os_action: 'STOP' }]) {
          expectInvalid(await t.http.post(url, { as: w.m1.session, body }));
        }
        expect((await t.http.get(`/api/vms/${w.vm1}/`, { as: w.m1.session })).data).toMatchObject({ status: 'ACTIVE', task_state: null });
      },
      '404 not_found: no such VM': async () => {
        expectError(await t.http.post(`/api/vms/${NO_SUCH_ID}/action/`, { as: w.su.session, body: { os_action: 'stop' } }), 404, 'not_found');
      },
      '409 invalid_state: an action that does not fit the state': async () => {
        expectError(await t.http.post(`/api/vms/${w.vm1}/action/`, { as: w.m1.session, body: { os_action: 'resume' } }), 409, 'invalid_state');
      },
    },
  },
  {
    route: 'DELETE /api/vms/{openstack_id}/',
    method: 'DELETE',
    url: () => `/api/vms/${w.vm1}/`,
    auth: 'any',
    scope: 'vm:delete',
    cases: {
      '202 deleting; the VM ends DELETED and GET still answers 200; deleting again is 409 invalid_state': async () => {
        const vm = await t.factory.vm(w.m1, w.p.id);
        const url = `/api/vms/${vm.openstack_id}/`;
        const del = await t.http.delete(url, { as: w.m1.session });
        expect(del.statusCode).toBe(202);
        expect(del.data).toMatchObject({ openstack_id: vm.openstack_id, task_state: 'deleting' });
        await t.factory.waitFor(w.m1, url, (d) => d.status === 'DELETED' && d.task_state === null);
        expectError(await t.http.delete(url, { as: w.m1.session }), 409, 'invalid_state');
      },
      '404 not_found: no such VM': async () => {
        expectError(await t.http.delete(`/api/vms/${NO_SUCH_ID}/`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/volumes/',
    method: 'GET',
    url: () => '/api/volumes/',
    auth: 'any',
    scope: 'volume:read',
    cases: {
      '200 a page of volumes, filtered by project and status': async () => {
        const res = await t.http.get(`/api/volumes/?project_id=${w.p.id}&status=available`, { as: w.admin.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toMatchObject({ count: expect.any(Number), next: null, previous: null });
        expect(ids(res.data.results)).toEqual(expect.arrayContaining([w.vol1, w.vol2]));
        const vol1 = res.data.results.find((v: { openstack_id: string }) => v.openstack_id === w.vol1);
        expect(Object.keys(vol1)).toEqual(expect.arrayContaining(['openstack_id', 'name', 'project_id', 'owner', 'storage', 'status', 'attached_to', 'device', 'created_at', 'updated_at']));
        const inUse = await t.http.get(`/api/volumes/?project_id=${w.p.id}&status=in-use`, { as: w.admin.session });
        expect(ids(inUse.data.results)).not.toContain(w.vol1);
      },
      '400 invalid: page_size over 500, page 0, non-numeric project_id': async () => {
        for (const qs of ['page_size=501', 'page_size=-1', 'page=0', 'project_id=x']) {
          expectInvalid(await t.http.get(`/api/volumes/?${qs}`, { as: w.su.session }), qs.split('=')[0]);
        }
      },
      '404 not_found: a project_id out of reach': async () => {
        expectError(await t.http.get(`/api/volumes/?project_id=${w.q.id}`, { as: w.m1.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'GET /api/volumes/by-api-key/',
    method: 'GET',
    url: () => '/api/volumes/by-api-key/',
    auth: 'any',
    scope: 'volume:read',
    cases: {
      '200 a page of volumes as GET /api/volumes/ answers (spec §8)': async () => {
        const res = await t.http.get(`/api/volumes/by-api-key/?project_id=${w.p.id}&status=available`, { as: w.admin.session });
        expect(res.statusCode).toBe(200);
        expect(ids(res.data.results)).toEqual(expect.arrayContaining([w.vol1, w.vol2]));
        const original = await t.http.get(`/api/volumes/?project_id=${w.p.id}&status=available`, { as: w.admin.session });
        expect({ count: res.data.count, results: res.data.results }).toEqual({ count: original.data.count, results: original.data.results });
      },
      '404 not_found: a project_id out of reach': async () => {
        expectError(await t.http.get(`/api/volumes/by-api-key/?project_id=${w.q.id}`, { as: w.m1.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'POST /api/volumes/',
    method: 'POST',
    url: () => '/api/volumes/',
    auth: 'any',
    scope: 'volume:create',
    body: () => volumeBody(w.p.id),
    cases: {
      '201 the volume, creating; a form\'s storage=10 is the number 10': async () => {
        const res = await t.http.post('/api/volumes/', { as: w.m2.session, body: volumeBody(w.p.id, { name: 'data', storage: 3 }) });
        expect(res.statusCode).toBe(201);
        expect(res.data).toMatchObject({ name: 'data', project_id: w.p.id, owner: w.m2.username, storage: 3, status: 'creating', attached_to: null });
        const form = await t.http.post('/api/volumes/', { as: w.m2.session, form: true, body: volumeBody(w.p.id, { storage: '10' }) });
        expect(form.statusCode).toBe(201);
        expect(form.data.storage).toBe(10);
      },
      '400 invalid: bad storage, missing or bad name': async () => {
        const bad: [Record<string, unknown>, string][] = [
          [volumeBody(w.p.id, { storage: 0 }), 'storage'],
          [volumeBody(w.p.id, { storage: -1 }), 'storage'],
          [volumeBody(w.p.id, { storage: 1.5 }), 'storage'],
          [volumeBody(w.p.id, { storage: '10' }), 'storage'], // JSON types are not coerced
          [volumeBody(w.p.id, { storage: true }), 'storage'],
          [volumeBody(w.p.id, { storage: 1e12 }), 'storage'],
          [volumeBody(w.p.id, { name: undefined }), 'name'],
          [volumeBody(w.p.id, { name: '' }), 'name'],
          [volumeBody(w.p.id, { name: 'tab\there' }), 'name'],
          [volumeBody(w.p.id, { name: 'n'.repeat(256) }), 'name'],
        ];
        for (const [body, field] of bad) expectInvalid(await t.http.post('/api/volumes/', { as: w.m2.session, body }), field);
        expectInvalid(await t.http.post('/api/volumes/', { as: w.m2.session, form: true, body: volumeBody(w.p.id, { storage: 'ten' }) }), 'storage');
      },
      '404 not_found: a project the caller does not belong to': async () => {
        expectError(await t.http.post('/api/volumes/', { as: w.outsider.session, body: volumeBody(w.p.id) }), 404, 'not_found');
      },
      '409 quota_exceeded: too many volumes, or too many GB': async () => {
        const small = await t.factory.project({ members: [w.m2], quota: { volumes: 1, volume_gb: 5 } });
        expectError(await t.http.post('/api/volumes/', { as: w.m2.session, body: volumeBody(small.id, { storage: 6 }) }), 409, 'quota_exceeded');
        expect((await t.http.post('/api/volumes/', { as: w.m2.session, body: volumeBody(small.id, { storage: 5 }) })).statusCode).toBe(201);
        expectError(await t.http.post('/api/volumes/', { as: w.m2.session, body: volumeBody(small.id) }), 409, 'quota_exceeded');
      },
    },
  },
  {
    route: 'GET /api/volumes/{openstack_id}/',
    method: 'GET',
    url: () => `/api/volumes/${w.vol1}/`,
    auth: 'any',
    scope: 'volume:read',
    cases: {
      '200 the volume': async () => {
        const res = await t.http.get(`/api/volumes/${w.vol1}/`, { as: w.m1.session });
        expect(res.statusCode).toBe(200);
        expect(res.data).toMatchObject({ openstack_id: w.vol1, project_id: w.p.id, owner: w.m1.username, storage: 1, status: 'available', attached_to: null, device: null });
      },
      '404 not_found: no such volume': async () => {
        expectError(await t.http.get(`/api/volumes/${NO_SUCH_ID}/`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'POST /api/volumes/{openstack_id}/action/',
    method: 'POST',
    url: () => `/api/volumes/${w.vol1}/action/`,
    auth: 'any',
    scope: 'volume:change_state',
    body: () => ({ os_action: 'extend', size: 2 }),
    cases: {
      '202 extend (JSON), attach and detach (form)': async () => {
        const vol = await t.factory.volume(w.m1, w.p.id);
        const url = `/api/volumes/${vol.openstack_id}/`;
        const extend = await t.http.post(`${url}action/`, { as: w.m1.session, body: { os_action: 'extend', size: 4 } });
        expect(extend.statusCode).toBe(202);
        expect(extend.data).toMatchObject({ openstack_id: vol.openstack_id, status: 'extending' });
        await t.factory.waitFor(w.m1, url, (d) => d.status === 'available' && d.storage === 4);
        const vm = await t.factory.vm(w.m1, w.p.id);
        const attach = await t.http.post(`${url}action/`, { as: w.m1.session, form: true, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } });
        expect(attach.statusCode).toBe(202);
        expect(attach.data.status).toBe('attaching');
        await t.factory.waitFor(w.m1, url, (d) => d.status === 'in-use' && d.attached_to === vm.openstack_id);
        const detach = await t.http.post(`${url}action/`, { as: w.m1.session, form: true, body: { os_action: 'detach' } });
        expect(detach.statusCode).toBe(202);
        expect(detach.data.status).toBe('detaching');
        await t.factory.waitFor(w.m1, url, (d) => d.status === 'available' && d.attached_to === null);
      },
      '400 invalid: unknown os_action, extend without a larger size, attach without a VM': async () => {
        const url = `/api/volumes/${w.vol1}/action/`;
        const bad: [Record<string, unknown>, string | undefined][] = [
          [{ os_action: 'shred' }, 'os_action'],
          [{}, 'os_action'],
          [{ os_action: 'extend' }, 'size'],
          [{ os_action: 'extend', size: 1 }, 'size'],
          [{ os_action: 'extend', size: 0 }, 'size'],
          [{ os_action: 'extend', size: 'big' }, 'size'],
          [{ os_action: 'attach' }, 'vm_openstack_id'],
          [{ os_action: 'attach', vm_openstack_id: 'v'.repeat(65) }, 'vm_openstack_id'],
        ];
        for (const [body, field] of bad) expectInvalid(await t.http.post(url, { as: w.m1.session, body }), field);
        expect((await t.http.get(`/api/volumes/${w.vol1}/`, { as: w.m1.session })).data).toMatchObject({ status: 'available', storage: 1 });
      },
      '404 not_found: no such volume, or a VM outside the volume\'s project': async () => {
        expectError(await t.http.post(`/api/volumes/${NO_SUCH_ID}/action/`, { as: w.su.session, body: { os_action: 'detach' } }), 404, 'not_found');
        expectError(await t.http.post(`/api/volumes/${w.vol1}/action/`, { as: w.su.session, body: { os_action: 'attach', vm_openstack_id: w.vmQ } }), 404, 'not_found');
        expectError(await t.http.post(`/api/volumes/${w.vol1}/action/`, { as: w.su.session, body: { os_action: 'attach', vm_openstack_id: NO_SUCH_ID } }), 404, 'not_found');
      },
      '409 invalid_state: detach an available volume': async () => {
        expectError(await t.http.post(`/api/volumes/${w.vol1}/action/`, { as: w.m1.session, body: { os_action: 'detach' } }), 409, 'invalid_state');
      },
      '409 quota_exceeded: extend beyond the project\'s GB': async () => {
        const small = await t.factory.project({ members: [w.m1], quota: { volume_gb: 5 } });
        const vol = await t.factory.volume(w.m1, small.id, { storage: 2 });
        expectError(await t.http.post(`/api/volumes/${vol.openstack_id}/action/`, { as: w.m1.session, body: { os_action: 'extend', size: 6 } }), 409, 'quota_exceeded');
        expect((await t.http.post(`/api/volumes/${vol.openstack_id}/action/`, { as: w.m1.session, body: { os_action: 'extend', size: 5 } })).statusCode).toBe(202);
      },
    },
  },
  {
    route: 'DELETE /api/volumes/{openstack_id}/',
    method: 'DELETE',
    url: () => `/api/volumes/${w.vol1}/`,
    auth: 'any',
    scope: 'volume:delete',
    cases: {
      '202 deleting; once gone, GET answers 404': async () => {
        const vol = await t.factory.volume(w.m2, w.p.id);
        const url = `/api/volumes/${vol.openstack_id}/`;
        const del = await t.http.delete(url, { as: w.m2.session });
        expect(del.statusCode).toBe(202);
        expect(del.data).toMatchObject({ openstack_id: vol.openstack_id, status: 'deleting' });
        await waitGone(w.m2, url);
        expectError(await t.http.delete(url, { as: w.m2.session }), 404, 'not_found');
      },
      '409 invalid_state: a volume that is in use': async () => {
        const vm = await t.factory.vm(w.m2, w.p.id);
        const vol = await t.factory.volume(w.m2, w.p.id);
        const url = `/api/volumes/${vol.openstack_id}/`;
        expect((await t.http.post(`${url}action/`, { as: w.m2.session, body: { os_action: 'attach', vm_openstack_id: vm.openstack_id } })).statusCode).toBe(202);
        await t.factory.waitFor(w.m2, url, (d) => d.status === 'in-use');
        expectError(await t.http.delete(url, { as: w.m2.session }), 409, 'invalid_state');
      },
      '404 not_found: no such volume': async () => {
        expectError(await t.http.delete(`/api/volumes/${NO_SUCH_ID}/`, { as: w.su.session }), 404, 'not_found');
      },
    },
  },
  {
    route: 'POST /api/snapshots/',
    method: 'POST',
    url: () => '/api/snapshots/',
    auth: 'any',
    scope: 'snapshot:create',
    body: () => ({ snapshot_instance: w.vm1, snapshot_name: unique('snap') }),
    cases: {
      '202 queued, later active and an image of its project (JSON and form)': async () => {
        const name = unique('snap');
        const res = await t.http.post('/api/snapshots/', { as: w.m2.session, body: { snapshot_instance: w.vm2, snapshot_name: name, description: 'before upgrade' } });
        expect(res.statusCode).toBe(202);
        expect(res.data).toMatchObject({ openstack_id: expect.any(String), name, description: 'before upgrade', status: 'queued', project_id: w.p.id, owner: w.m2.username, vm_openstack_id: w.vm2 });
        await t.factory.waitFor(w.m2, `/api/projects/${w.p.id}/images/`, (list: { name: string }[]) => list.some((i) => i.name === name));
        const form = await t.http.post('/api/snapshots/', { as: w.m2.session, form: true, body: { snapshot_instance: w.vm2, snapshot_name: unique('snap') } });
        expect(form.statusCode).toBe(202);
        expect(form.data).toMatchObject({ status: 'queued', description: '' });
      },
      '400 invalid: bad or taken name, bad description, no VM': async () => {
        const bad: [Record<string, unknown>, string][] = [
          [{ snapshot_instance: w.vm1, snapshot_name: 'has space' }, 'snapshot_name'],
          [{ snapshot_instance: w.vm1 }, 'snapshot_name'],
          [{ snapshot_instance: w.vm1, snapshot_name: 'Ubuntu-22.04' }, 'snapshot_name'],
          [{ snapshot_instance: w.vm1, snapshot_name: w.snap1.name }, 'snapshot_name'],
          [{ snapshot_instance: w.vm1, snapshot_name: unique('snap'), description: 'bell\u0007' }, 'description'],
          [{ snapshot_instance: w.vm1, snapshot_name: unique('snap'), description: 'd'.repeat(1001) }, 'description'],
          [{ snapshot_name: unique('snap') }, 'snapshot_instance'],
          [{ snapshot_instance: 42, snapshot_name: unique('snap') }, 'snapshot_instance'],
        ];
        for (const [body, field] of bad) expectInvalid(await t.http.post('/api/snapshots/', { as: w.m1.session, body }), field);
      },
      '404 not_found: no such VM': async () => {
        expectError(await t.http.post('/api/snapshots/', { as: w.su.session, body: { snapshot_instance: NO_SUCH_ID, snapshot_name: unique('snap') } }), 404, 'not_found');
      },
      '409 invalid_state: a DELETED VM': async () => {
        const vm = await t.factory.vm(w.m1, w.p.id);
        expect((await t.http.delete(`/api/vms/${vm.openstack_id}/`, { as: w.m1.session })).statusCode).toBe(202);
        await t.factory.waitFor(w.m1, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'DELETED');
        expectError(await t.http.post('/api/snapshots/', { as: w.m1.session, body: { snapshot_instance: vm.openstack_id, snapshot_name: unique('snap') } }), 409, 'invalid_state');
      },
    },
  },
  {
    route: 'DELETE /api/snapshots/{openstack_id}/',
    method: 'DELETE',
    url: () => `/api/snapshots/${w.snap2.openstack_id}/`,
    auth: 'any',
    scope: 'vm:delete',
    cases: {
      '204; at once no longer listed nor an image; the VMs made from it keep running (spec §8)': async () => {
        const vm = await t.factory.vm(w.m2, w.p.id);
        const snap = await snapshotOf(w.m2, vm.openstack_id);
        const restored = await t.http.post('/api/vms/', { as: w.m2.session, body: vmBody(w.p.id, { image_name: snap.name }) });
        expect(restored.statusCode, restored.body).toBe(201);
        await t.factory.waitFor(w.m2, `/api/vms/${restored.data.openstack_id}/`, (d) => d.status === 'ACTIVE');
        const res = await t.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: w.m2.session });
        expect(res.statusCode, res.body).toBe(204);
        expect(res.body).toBe('');
        expect(ids((await t.http.get(`/api/projects/${w.p.id}/snapshots/`, { as: w.m2.session })).data)).not.toContain(snap.openstack_id);
        const images = (await t.http.get(`/api/projects/${w.p.id}/images/`, { as: w.m2.session })).data.map((i: { name: string }) => i.name);
        expect(images).not.toContain(snap.name);
        expectError(await t.http.delete(`/api/snapshots/${snap.openstack_id}/`, { as: w.m2.session }), 404, 'not_found');
        expect((await t.http.get(`/api/vms/${restored.data.openstack_id}/`, { as: w.m2.session })).data).toMatchObject({ status: 'ACTIVE', image_name: snap.name });
      },
      '404 not_found: no such snapshot, or another member\'s': async () => {
        expectError(await t.http.delete(`/api/snapshots/${NO_SUCH_ID}/`, { as: w.su.session }), 404, 'not_found');
        expectError(await t.http.delete(`/api/snapshots/${w.snap2.openstack_id}/`, { as: w.m1.session }), 404, 'not_found');
        expect(ids((await t.http.get(`/api/projects/${w.p.id}/snapshots/`, { as: w.m2.session })).data)).toContain(w.snap2.openstack_id);
      },
    },
  },
];

describe.each(ROUTES)('$route', (row) => {
  const cases = { ...generatedCases(row), ...row.cases };
  it.each(Object.keys(cases))('%s', async (name) => {
    await cases[name]();
  });
});

// ---------------------------------------------------------------------------------------------
// Who may do what (spec §4), through web sessions.
// ---------------------------------------------------------------------------------------------

type Role = 'outsider' | 'm1' | 'm2' | 'admin' | 'su';
const ROLES: Role[] = ['outsider', 'm1', 'm2', 'admin', 'su'];
/** Who reaches m1's objects in P: m1 itself, P's admin, the superuser. */
const REACHES_M1_OBJECTS: Record<Role, boolean> = { outsider: false, m1: true, m2: false, admin: true, su: true };
/** Who reaches project P itself: its members and admin, the superuser. */
const REACHES_P: Record<Role, boolean> = { outsider: false, m1: true, m2: true, admin: true, su: true };

interface MatrixRow {
  what: string;
  send: (as: As) => Promise<Res>;
  /** The status when the caller reaches it (a bad body's 400 proves reach without changing anything). */
  reached: number;
  who: Record<Role, boolean>;
}

const MATRIX: MatrixRow[] = [
  { what: 'GET m1\'s VM', send: (as) => t.http.get(`/api/vms/${w.vm1}/`, { as }), reached: 200, who: REACHES_M1_OBJECTS },
  { what: 'POST an action on m1\'s VM', send: (as) => t.http.post(`/api/vms/${w.vm1}/action/`, { as, body: { os_action: 'explode' } }), reached: 400, who: REACHES_M1_OBJECTS },
  { what: 'GET m1\'s volume', send: (as) => t.http.get(`/api/volumes/${w.vol1}/`, { as }), reached: 200, who: REACHES_M1_OBJECTS },
  { what: 'POST an action on m1\'s volume', send: (as) => t.http.post(`/api/volumes/${w.vol1}/action/`, { as, body: { os_action: 'extend', size: 0 } }), reached: 400, who: REACHES_M1_OBJECTS },
  { what: 'POST a snapshot of m1\'s VM', send: (as) => t.http.post('/api/snapshots/', { as, body: { snapshot_instance: w.vm1, snapshot_name: '!' } }), reached: 400, who: REACHES_M1_OBJECTS },
  { what: 'GET project P', send: (as) => t.http.get(`/api/projects/${w.p.id}/`, { as }), reached: 200, who: REACHES_P },
  { what: 'GET P\'s flavors', send: (as) => t.http.get(`/api/projects/${w.p.id}/flavors/`, { as }), reached: 200, who: REACHES_P },
  { what: 'GET P\'s images', send: (as) => t.http.get(`/api/projects/${w.p.id}/images/`, { as }), reached: 200, who: REACHES_P },
  { what: 'GET P\'s snapshots', send: (as) => t.http.get(`/api/projects/${w.p.id}/snapshots/`, { as }), reached: 200, who: REACHES_P },
  { what: 'GET P\'s members', send: (as) => t.http.get(`/api/projects/${w.p.id}/members/`, { as }), reached: 200, who: REACHES_P },
  { what: 'GET the VMs of P', send: (as) => t.http.get(`/api/vms/?project_id=${w.p.id}`, { as }), reached: 200, who: REACHES_P },
  { what: 'GET the volumes of P', send: (as) => t.http.get(`/api/volumes/?project_id=${w.p.id}`, { as }), reached: 200, who: REACHES_P },
  { what: 'POST a VM in P', send: (as) => t.http.post('/api/vms/', { as, body: { project_id: w.p.id, vm_name: '!' } }), reached: 400, who: REACHES_P },
  { what: 'POST a volume in P', send: (as) => t.http.post('/api/volumes/', { as, body: { project_id: w.p.id, storage: 0 } }), reached: 400, who: REACHES_P },
];

const userOf = (role: Role): TestUser => w[role];

describe('who may do what (spec §4), through web sessions', () => {
  const cells = MATRIX.flatMap((row) => ROLES.map((role) => ({ row, role, label: `${row.what} as ${role} → ${row.who[role] ? row.reached : 404}` })));
  it.each(cells)('$label', async ({ row, role }) => {
    const res = await row.send(userOf(role).session);
    if (row.who[role]) expect(res.statusCode, res.body).toBe(row.reached);
    else expectError(res, 404, 'not_found');
  });

  it('lists show a member only their own objects, an admin and a superuser every object of the project', async () => {
    const listed = async (role: Role, url: string) => {
      const res = await t.http.get(url, { as: userOf(role).session });
      expect(res.statusCode).toBe(200);
      return ids(res.data.results ?? res.data);
    };
    const expectations: [Role, string[], string[]][] = [
      ['m1', [w.vm1, w.vol1, w.snap1.openstack_id], [w.vm2, w.vol2, w.snap2.openstack_id]],
      ['m2', [w.vm2, w.vol2, w.snap2.openstack_id], [w.vm1, w.vol1, w.snap1.openstack_id]],
      ['admin', [w.vm1, w.vm2, w.vol1, w.vol2, w.snap1.openstack_id, w.snap2.openstack_id], []],
      ['su', [w.vm1, w.vm2, w.vol1, w.vol2, w.snap1.openstack_id, w.snap2.openstack_id], []],
    ];
    for (const [role, sees, hidden] of expectations) {
      const all = [
        ...(await listed(role, `/api/vms/?project_id=${w.p.id}&page_size=500`)),
        ...(await listed(role, `/api/volumes/?project_id=${w.p.id}&page_size=500`)),
        ...(await listed(role, `/api/projects/${w.p.id}/snapshots/`)),
      ];
      expect(all, role).toEqual(expect.arrayContaining(sees));
      for (const id of hidden) expect(all, role).not.toContain(id);
    }
    // A member's images hold their own active snapshots, not another member's.
    const images = (await t.http.get(`/api/projects/${w.p.id}/images/`, { as: w.m1.session })).data.map((i: { name: string }) => i.name);
    expect(images).toContain(w.snap1.name);
    expect(images).not.toContain(w.snap2.name);
  });

  it('without ?project_id a list holds what the caller reaches: nothing of P for an outsider, everything for a superuser', async () => {
    const outsiderVms = ids((await t.http.get('/api/vms/?page_size=500', { as: w.outsider.session })).data.results);
    expect(outsiderVms).toContain(w.vmQ);
    expect(outsiderVms).not.toContain(w.vm1);
    expect(outsiderVms).not.toContain(w.vm2);
    const outsiderVolumes = ids((await t.http.get('/api/volumes/?page_size=500', { as: w.outsider.session })).data.results);
    expect(outsiderVolumes).not.toContain(w.vol1);
    const suVms = ids((await t.http.get('/api/vms/?page_size=500', { as: w.su.session })).data.results);
    expect(suVms).toEqual(expect.arrayContaining([w.vm1, w.vm2, w.vmQ]));
    const m1Vms = ids((await t.http.get('/api/vms/?page_size=500', { as: w.m1.session })).data.results);
    expect(m1Vms).toContain(w.vm1);
    expect(m1Vms).not.toContain(w.vm2);
    expect(m1Vms).not.toContain(w.vmQ);
  });

  it.each(ROLES)('acting on m1\'s VM as %s: stop, snapshot and delete succeed exactly when it is in reach', async (role) => {
    const caller = userOf(role);
    const vm = await t.factory.vm(w.m1, w.p.id);
    const url = `/api/vms/${vm.openstack_id}/`;
    const allowed = REACHES_M1_OBJECTS[role];
    const snap = await t.http.post('/api/snapshots/', { as: caller.session, body: { snapshot_instance: vm.openstack_id, snapshot_name: unique('snap') } });
    const stop = await t.http.post(`${url}action/`, { as: caller.session, body: { os_action: 'stop' } });
    if (!allowed) {
      expectError(snap, 404, 'not_found');
      expectError(stop, 404, 'not_found');
      expectError(await t.http.delete(url, { as: caller.session }), 404, 'not_found');
      expect((await t.http.get(url, { as: w.m1.session })).data).toMatchObject({ status: 'ACTIVE', task_state: null });
      return;
    }
    expect(snap.statusCode, snap.body).toBe(202);
    expect(snap.data.owner).toBe(caller.username); // what they create is theirs
    expect(stop.statusCode, stop.body).toBe(202);
    await t.factory.waitFor(caller, url, (d) => d.status === 'SHUTOFF' && d.task_state === null);
    expect((await t.http.delete(url, { as: caller.session })).statusCode).toBe(202);
    await t.factory.waitFor(w.m1, url, (d) => d.status === 'DELETED');
  });

  it.each(ROLES)('acting on m1\'s volume as %s: extend and delete succeed exactly when it is in reach', async (role) => {
    const caller = userOf(role);
    const vol = await t.factory.volume(w.m1, w.p.id);
    const url = `/api/volumes/${vol.openstack_id}/`;
    const extend = await t.http.post(`${url}action/`, { as: caller.session, body: { os_action: 'extend', size: 2 } });
    if (!REACHES_M1_OBJECTS[role]) {
      expectError(extend, 404, 'not_found');
      expectError(await t.http.delete(url, { as: caller.session }), 404, 'not_found');
      expect((await t.http.get(url, { as: w.m1.session })).data).toMatchObject({ status: 'available', storage: 1 });
      return;
    }
    expect(extend.statusCode, extend.body).toBe(202);
    await t.factory.waitFor(caller, url, (d) => d.status === 'available' && d.storage === 2);
    expect((await t.http.delete(url, { as: caller.session })).statusCode).toBe(202);
    await waitGone(w.m1, url);
  });

  it('a member cannot attach their volume to another member\'s VM (404), nor another member\'s volume to theirs', async () => {
    expectError(await t.http.post(`/api/volumes/${w.vol1}/action/`, { as: w.m1.session, body: { os_action: 'attach', vm_openstack_id: w.vm2 } }), 404, 'not_found');
    expectError(await t.http.post(`/api/volumes/${w.vol2}/action/`, { as: w.m1.session, body: { os_action: 'attach', vm_openstack_id: w.vm1 } }), 404, 'not_found');
  });

  it('a superuser creates in any project, and what they create is theirs', async () => {
    const res = await t.http.post('/api/volumes/', { as: w.su.session, body: volumeBody(w.q.id) });
    expect(res.statusCode).toBe(201);
    expect(res.data).toMatchObject({ project_id: w.q.id, owner: w.su.username });
    // …and the project's member, not its admin, does not see it.
    expectError(await t.http.get(`/api/volumes/${res.data.openstack_id}/`, { as: w.outsider.session }), 404, 'not_found');
  });
});

// ---------------------------------------------------------------------------------------------
// Reach before validation (spec §3): out of reach is 404 whatever else is wrong.
// ---------------------------------------------------------------------------------------------

describe('reach before validation', () => {
  const garbageVm = (projectId: unknown) => ({ project_id: projectId, image_name: 42, flavor_name: ['x'], vm_name: '!!!', extra: { deep: [null] } });

  it('POST /api/vms/ with an unreachable project_id and a garbage body answers 404, not 400', async () => {
    expectError(await t.http.post('/api/vms/', { as: w.outsider.session, body: garbageVm(w.p.id) }), 404, 'not_found');
    expectError(await t.http.post('/api/vms/', { as: w.su.session, body: garbageVm(NO_SUCH_PROJECT) }), 404, 'not_found');
    expectError(await t.http.post('/api/vms/', { as: w.outsider.session, form: true, body: { project_id: String(w.p.id), vm_name: '%%%', flavor_name: ['a', 'b'] } }), 404, 'not_found');
    // The same garbage in a reachable project is a 400: the 404 above is about reach.
    expectInvalid(await t.http.post('/api/vms/', { as: w.m1.session, body: garbageVm(w.p.id) }));
  });

  it('POST /api/volumes/ and list queries with an unreachable project_id answer 404', async () => {
    expectError(await t.http.post('/api/volumes/', { as: w.outsider.session, body: { project_id: w.p.id, storage: -5, name: null } }), 404, 'not_found');
    expectError(await t.http.get(`/api/vms/?project_id=${w.p.id}&page_size=100000&page=0`, { as: w.outsider.session }), 404, 'not_found');
    expectError(await t.http.get(`/api/volumes/?project_id=${w.p.id}&page_size=abc`, { as: w.outsider.session }), 404, 'not_found');
  });

  it('an object out of reach with a bad body answers 404', async () => {
    const as = w.m2.session;
    for (const body of [{ os_action: 'explode' }, [], 'just a string', { os_action: 'stop', reboot_type: 7 }]) {
      expectError(await t.http.post(`/api/vms/${w.vm1}/action/`, { as, body }), 404, 'not_found');
    }
    expectError(await t.http.post(`/api/volumes/${w.vol1}/action/`, { as, body: { os_action: 'extend', size: -1 } }), 404, 'not_found');
    expectError(await t.http.post(`/api/volumes/${w.vol1}/action/`, { as, form: true, body: { os_action: ['a', 'b'], size: 'x' } }), 404, 'not_found');
    expectError(await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: w.vm1, snapshot_name: '%%%', description: 5 } }), 404, 'not_found');
    expectError(await t.http.post('/api/snapshots/', { as: w.su.session, body: { snapshot_instance: 'v'.repeat(65), snapshot_name: '' } }), 404, 'not_found');
    // Control: the same bad bodies on objects in reach are 400s.
    expectInvalid(await t.http.post(`/api/vms/${w.vm2}/action/`, { as, body: { os_action: 'explode' } }));
    expectInvalid(await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: w.vm2, snapshot_name: '%%%' } }));
  });
});

// ---------------------------------------------------------------------------------------------
// Paths: /api/ and /portal/api/, with and without the trailing slash, answer identically.
// ---------------------------------------------------------------------------------------------

describe('the /portal/api/ prefix and the optional trailing slash', () => {
  const variants = (path: string) => {
    const bare = path.replace(/\/$/, '');
    const [p, qs] = bare.split('?');
    const suffix = qs ? `?${qs}` : '';
    return [`/api${p}/${suffix}`, `/api${p}${suffix}`, `/portal/api${p}/${suffix}`, `/portal/api${p}${suffix}`];
  };

  it('every GET answers the same status and body under all four spellings', async () => {
    // A world of its own, settled, so that no background transition changes an answer between calls.
    const user = await t.factory.user();
    const project = await t.factory.project({ admins: [user] });
    const vm = await t.factory.vm(user, project.id);
    const vol = await t.factory.volume(user, project.id);
    await snapshotOf(user, vm.openstack_id);
    const paths = [
      '/auth/me', '/projects', `/projects/${project.id}`, `/projects/${project.id}/flavors`, `/projects/${project.id}/images`,
      `/projects/${project.id}/snapshots`, `/vms?project_id=${project.id}&status=ACTIVE`, `/volumes?project_id=${project.id}`,
      `/vms/${vm.openstack_id}`, `/volumes/${vol.openstack_id}`, `/vms/${NO_SUCH_ID}`, `/projects/${NO_SUCH_PROJECT}`, '/vms?page_size=501',
      '/projects/by-api-key', `/projects/${project.id}/snapshots/images`, `/projects/${project.id}/keys`, `/projects/${project.id}/members`, `/vms/by-api-key?project_id=${project.id}`,
      `/volumes/by-api-key?project_id=${project.id}`, `/vms?owner=${user.username}&openstack_id=${vm.openstack_id}`,
    ];
    for (const path of paths) {
      const answers = [];
      for (const url of variants(path)) {
        const res = await t.http.get(url, { as: user.session });
        answers.push({ status: res.statusCode, data: res.data });
      }
      for (const a of answers.slice(1)) expect(a, path).toEqual(answers[0]);
      expect(answers[0].data, path).not.toBeNull();
    }
  });

  it('every POST and DELETE answers the same under all four spellings', async () => {
    for (const url of variants('/volumes')) {
      const res = await t.http.post(url, { as: w.m1.session, body: volumeBody(w.p.id, { name: 'spelled' }) });
      expect(res.statusCode, url).toBe(201);
      expect(res.data).toMatchObject({ name: 'spelled', project_id: w.p.id });
    }
    const same = async (method: 'POST' | 'DELETE', path: string, body?: unknown) => {
      const answers = [];
      for (const url of variants(path)) {
        const res = await t.http.request(method, url, { as: w.m1.session, body });
        answers.push({ status: res.statusCode, data: res.data });
      }
      for (const a of answers.slice(1)) expect(a, path).toEqual(answers[0]);
      return answers[0];
    };
    expect((await same('POST', `/vms/${w.vm1}/action`, { os_action: 'explode' })).status).toBe(400);
    expect((await same('POST', `/vms/${w.vm2}/action`, { os_action: 'stop' })).status).toBe(404);
    expect((await same('POST', '/vms', { project_id: w.p.id })).status).toBe(400);
    expect((await same('POST', '/snapshots', { snapshot_instance: NO_SUCH_ID, snapshot_name: 'x' })).status).toBe(404);
    expect((await same('DELETE', `/volumes/${NO_SUCH_ID}`)).status).toBe(404);
    expect((await same('DELETE', `/vms/${w.vm2}`)).status).toBe(404);
    expect((await same('POST', `/volumes/${w.vol1}/action`, { os_action: 'detach' })).status).toBe(409);
    const sessions = [];
    for (const url of variants('/auth/login')) {
      const res = await t.http.post(url, { body: { username: w.m2.username, password: 'correct horse battery staple' } });
      expect(res.statusCode, url).toBe(200);
      sessions.push(res.data.csrf_token);
    }
    expect(new Set(sessions).size).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------
// Pagination of VM and volume lists.
// ---------------------------------------------------------------------------------------------

describe('pagination', () => {
  /** A link as a client resolves it against the address it called. */
  const paramsOf = (link: string) => Object.fromEntries(new URL(link, 'http://portal.invalid').searchParams);

  it.each(['vms', 'volumes'])('GET /api/%s/ pages with count, next, previous and page_size', async (kind) => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = kind === 'vms'
        ? await t.http.post('/api/vms/', { as: user.session, body: vmBody(project.id) })
        : await t.http.post('/api/volumes/', { as: user.session, body: volumeBody(project.id) });
      expect(res.statusCode).toBe(201);
      created.push(res.data.openstack_id);
    }
    const first = await t.http.get(`/api/${kind}/?project_id=${project.id}&page_size=2`, { as: user.session });
    expect(first.statusCode).toBe(200);
    expect(first.data).toMatchObject({ count: 5, previous: null, next: `/api/${kind}/?project_id=${project.id}&page_size=2&page=2` });
    expect(first.data.results).toHaveLength(2);
    expect(paramsOf(first.data.next)).toEqual({ project_id: String(project.id), page: '2', page_size: '2' });

    const seen: string[] = ids(first.data.results);
    let page = first.data;
    const pages = [page];
    while (page.next) {
      const res = await t.http.get(page.next, { as: user.session });
      expect(res.statusCode).toBe(200);
      expect(res.data.count).toBe(5);
      expect(res.data.previous).not.toBeNull();
      page = res.data;
      pages.push(page);
      seen.push(...ids(page.results));
    }
    expect(pages.map((p) => p.results.length)).toEqual([2, 2, 1]);
    expect([...seen].sort()).toEqual([...created].sort());
    const times = pages.flatMap((p) => p.results.map((r: { created_at: string }) => r.created_at));
    expect([...times].sort().reverse()).toEqual(times); // newest first

    const back = await t.http.get(pages[2].previous, { as: user.session });
    expect(ids(back.data.results)).toEqual(ids(pages[1].results));

    const beyond = await t.http.get(`/api/${kind}/?project_id=${project.id}&page=9&page_size=2`, { as: user.session });
    expect(beyond.statusCode).toBe(200);
    expect(beyond.data).toMatchObject({ count: 5, next: null, results: [] });

    const all = await t.http.get(`/api/${kind}/?project_id=${project.id}&page_size=500`, { as: user.session });
    expect(all.data).toMatchObject({ count: 5, next: null, previous: null });
    expect(all.data.results).toHaveLength(5);
    const byDefault = await t.http.get(`/api/${kind}/?project_id=${project.id}`, { as: user.session });
    expect(byDefault.data.results).toHaveLength(5);
    const over = await t.http.get(`/api/${kind}/?project_id=${project.id}&page_size=501`, { as: user.session });
    expectInvalid(over, 'page_size');
  });

  /** A user with three VMs (and so three audit events of their own) in a project of their own. */
  async function threeOfEach(portal: TestPortal) {
    const user = await portal.factory.user();
    const project = await portal.factory.project({ members: [user] });
    for (let i = 0; i < 3; i++) {
      await portal.factory.vm(user, project.id, { active: false });
      await portal.factory.volume(user, project.id, { available: false });
    }
    return { user, query: (kind: string) => (kind === 'audit' ? '?action=vm.create' : `?project_id=${project.id}`) };
  }
  // A client that names another host, as a client, a cache or a proxy in front may pass it on.
  const FORGED = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };

  it('links are relative, never on the Host or X-Forwarded-Host the client sent, under either prefix', async () => {
    const { user, query } = await threeOfEach(t);
    for (const kind of ['vms', 'volumes', 'audit']) {
      for (const prefix of ['/api', '/portal/api']) {
        const res = await t.http.get(`${prefix}/${kind}/${query(kind)}&page=2&page_size=1`, { as: user.session, headers: FORGED });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.data).toMatchObject({
          count: 3,
          next: `${prefix}/${kind}/${query(kind)}&page=3&page_size=1`,
          previous: `${prefix}/${kind}/${query(kind)}&page=1&page_size=1`,
        });
        expect(res.body).not.toContain('evil.example');
      }
    }
  });

  it('an absolute-form request line (GET http://evil.example/api/vms/) gets relative links too', async () => {
    const { user, query } = await threeOfEach(t);
    const key = await t.factory.key(user);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    for (const kind of ['vms', 'volumes', 'audit']) {
      const answer = await new Promise<string>((resolve, reject) => {
        // write, not end: Node aborts a request whose client half-closes the connection before the answer.
        const socket = net.connect(port, '127.0.0.1', () => socket.write(
          `GET http://evil.example/api/${kind}/${query(kind)}&page=2&page_size=1 HTTP/1.1\r\n` +
          `Host: evil.example\r\nX-API-KEY: ${key.key}\r\nConnection: close\r\n\r\n`,
        ));
        let text = '';
        socket.on('data', (chunk) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
      expect(body).toMatchObject({ next: `/api/${kind}/${query(kind)}&page=3&page_size=1`, previous: `/api/${kind}/${query(kind)}&page=1&page_size=1` });
    }
  });

  describe('with SIMPLEVM_PUBLIC_URL', () => {
    let pub: TestPortal;
    beforeAll(async () => {
      // With a path and a trailing slash: the portal behind a proxy at /simplevm/.
      pub = await buildTestApp({ ...ENV, SIMPLEVM_PUBLIC_URL: 'https://portal.example.org/simplevm/' });
    });
    afterAll(() => pub.close());

    it('links are absolute on the public address, with the path the request used, whatever Host the client sent', async () => {
      const { user, query } = await threeOfEach(pub);
      for (const kind of ['vms', 'volumes', 'audit']) {
        for (const prefix of ['/api', '/portal/api']) {
          const res = await pub.http.get(`${prefix}/${kind}/${query(kind)}&page=2&page_size=1`, { as: user.session, headers: FORGED });
          expect(res.statusCode, res.body).toBe(200);
          expect(res.data).toMatchObject({
            next: `https://portal.example.org/simplevm${prefix}/${kind}/${query(kind)}&page=3&page_size=1`,
            previous: `https://portal.example.org/simplevm${prefix}/${kind}/${query(kind)}&page=1&page_size=1`,
          });
          expect(res.body).not.toContain('evil.example');
        }
      }
    });
  });
});
