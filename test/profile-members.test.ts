// Issue 22, the server's part (spec §6, §7): changing one's password (POST /api/auth/password), the
// profile's own audit list (GET /api/audit/?mine=true), what each audit event's `detail` says, and
// a project's members (GET/POST /api/projects/{id}/members/, DELETE …/members/{username}/), all
// through real HTTP handling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomToken, sha256Hex } from '../src/server/auth/tokens.js';
import { insertSession } from '../src/server/modules/sessions/sessions.repository.js';
import { insertUser } from '../src/server/modules/users/users.repository.js';
import { SESSION_COOKIE } from '../src/server/modules/sessions/sessions.verify.js';
import { PASSWORD, type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';

let t: TestPortal;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t?.close());

type Res = Awaited<ReturnType<TestPortal['http']['get']>>;
type As = { cookie: string; csrf: string } | { key: string } | { bearer: string };

interface AuditEvent {
  actor: string | null;
  key_prefix: string | null;
  action: string;
  object_type: string | null;
  object_id: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
}

function expectError(res: Res, status: number, code: string): void {
  expect({ status: res.statusCode, code: res.data?.code }, res.body).toEqual({ status, code });
  expect(typeof res.data.detail).toBe('string');
}

async function events(as: As, query = ''): Promise<AuditEvent[]> {
  const res = await t.http.get(`/api/audit/?page_size=500${query}`, { as });
  expect(res.statusCode, res.body).toBe(200);
  return res.data.results;
}

const NEW_PASSWORD = 'a brand new passphrase';

describe('POST /api/auth/password', () => {
  it('204: the new password holds, the old one not; every other session ends, the one that asked stays', async () => {
    const user = await t.factory.user();
    const other = await t.factory.login(user.username);
    const res = await t.http.post('/api/auth/password', { as: user.session, body: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
    expect(res.statusCode, res.body).toBe(204);
    expect(res.body).toBe('');
    expect((await t.http.get('/api/auth/me', { as: user.session })).statusCode).toBe(200);
    expectError(await t.http.get('/api/auth/me', { as: other }), 401, 'not_authenticated');
    expectError(await t.http.post('/api/auth/login', { body: { username: user.username, password: PASSWORD } }), 401, 'not_authenticated');
    await t.factory.login(user.username, NEW_PASSWORD);
    const changes = await events(user.session, '&action=password.change');
    expect(changes).toEqual([
      expect.objectContaining({ actor: user.username, object_type: 'user', object_id: String(user.id), outcome: 'success', detail: null }),
    ]);
  });

  it('takes a form body too, under /portal/api/ and without the trailing slash', async () => {
    const user = await t.factory.user();
    const res = await t.http.post('/portal/api/auth/password/', { as: user.session, form: true, body: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
    expect(res.statusCode, res.body).toBe(204);
    await t.factory.login(user.username, NEW_PASSWORD);
  });

  it('400 invalid on current_password for a wrong one: nothing changes, and a failed password.change is recorded', async () => {
    const user = await t.factory.user();
    const other = await t.factory.login(user.username);
    const res = await t.http.post('/api/auth/password', { as: user.session, body: { current_password: 'not my password', new_password: NEW_PASSWORD } });
    expectError(res, 400, 'invalid');
    expect(Object.keys(res.data.errors)).toEqual(['current_password']);
    expect((await t.http.get('/api/auth/me', { as: other })).statusCode).toBe(200);
    await t.factory.login(user.username, PASSWORD);
    expect(await events(user.session, '&action=password.change')).toEqual([
      expect.objectContaining({ actor: user.username, outcome: 'failure', detail: { code: 'invalid' } }),
    ]);
  });

  it('400 invalid naming the field: a new password under 12 characters, a missing or mistyped field, an unknown one', async () => {
    const user = await t.factory.user();
    const cases: [Record<string, unknown>, string][] = [
      [{ current_password: PASSWORD, new_password: 'elevenchars' }, 'new_password'],
      [{ current_password: PASSWORD }, 'new_password'],
      [{ new_password: NEW_PASSWORD }, 'current_password'],
      [{ current_password: 12, new_password: NEW_PASSWORD }, 'current_password'],
      [{ current_password: PASSWORD, new_password: NEW_PASSWORD, password: 'x' }, 'password'],
    ];
    for (const [body, field] of cases) {
      const res = await t.http.post('/api/auth/password', { as: user.session, body });
      expectError(res, 400, 'invalid');
      expect(Object.keys(res.data.errors ?? {}), JSON.stringify(body)).toContain(field);
    }
    // Twelve characters will do; the password did not change before.
    expect((await t.http.post('/api/auth/password', { as: user.session, body: { current_password: PASSWORD, new_password: 'twelve chars' } })).statusCode).toBe(204);
  });

  it('is for a web session only: 401 without one, 403 session_required for any API key, 403 csrf_failed without the token', async () => {
    const user = await t.factory.user();
    const body = { current_password: PASSWORD, new_password: NEW_PASSWORD };
    expectError(await t.http.post('/api/auth/password', { body }), 401, 'not_authenticated');
    const key = await t.factory.key(user, { own_objects_only: false });
    for (const as of [{ key: key.key }, { bearer: key.key }]) expectError(await t.http.post('/api/auth/password', { as, body }), 403, 'session_required');
    expectError(await t.http.post('/api/auth/password', { body, headers: { cookie: user.session.cookie } }), 403, 'csrf_failed');
    // Still the old password.
    await t.factory.login(user.username, PASSWORD);
  });

  describe('with SIMPLEVM_AUTH_FAIL_LIMIT=2', () => {
    let limited: TestPortal;
    beforeAll(async () => {
      limited = await buildTestApp({ SIMPLEVM_AUTH_FAIL_LIMIT: '2' });
    });
    afterAll(() => limited?.close());

    it('a wrong current password counts as a failed authentication of the address; a right one does not', async () => {
      const user = await limited.factory.user();
      const change = (current: string, next: string) => limited.http.post('/api/auth/password', { as: user.session, body: { current_password: current, new_password: next } });
      expect((await change(PASSWORD, NEW_PASSWORD)).statusCode).toBe(204);
      expect((await change(NEW_PASSWORD, PASSWORD)).statusCode).toBe(204);
      expect((await change('wrong one', NEW_PASSWORD)).statusCode).toBe(400);
      expect((await change(PASSWORD, NEW_PASSWORD)).statusCode).toBe(204);
      expect((await change('wrong two', PASSWORD)).statusCode).toBe(400);
      // Two failures this minute: the next attempt is refused before the password is looked at, even the right one.
      const throttled = await change(NEW_PASSWORD, PASSWORD);
      expectError(throttled, 429, 'rate_limited');
      expect(throttled.headers['retry-after']).toMatch(/^\d+$/);
      expect((await limited.http.post('/api/auth/login', { body: { username: user.username, password: NEW_PASSWORD } })).statusCode).toBe(429);
    });
  });

  describe('with single sign-on only (SIMPLEVM_LOCAL_LOGIN=false)', () => {
    let sso: TestPortal;
    beforeAll(async () => {
      sso = await buildTestApp({
        SIMPLEVM_OIDC_ISSUER: 'http://127.0.0.1:9/',
        SIMPLEVM_OIDC_CLIENT_ID: 'simplevm',
        SIMPLEVM_OIDC_CLIENT_SECRET: 'secret',
        SIMPLEVM_OIDC_REDIRECT_URL: 'http://127.0.0.1:8000/api/auth/oidc/callback',
        SIMPLEVM_LOCAL_LOGIN: 'false',
      });
    });
    afterAll(() => sso?.close());

    it('answers 403 permission_denied: a password would never be used', async () => {
      // A session as single sign-on makes it (a password login is refused here).
      const db = sso.ctx.db.kysely;
      const user = await insertUser(db, { username: unique('sso'), passwordHash: 'none', isSuperuser: false, createdAt: new Date().toISOString() });
      const token = randomToken();
      const csrf = randomToken();
      await insertSession(db, { id: sha256Hex(token), userId: user.id, csrfToken: csrf, createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      const as = { cookie: `${SESSION_COOKIE}=${token}`, csrf };
      expect((await sso.http.get('/api/auth/me', { as })).statusCode).toBe(200);
      expectError(await sso.http.post('/api/auth/password', { as, body: { current_password: 'none', new_password: NEW_PASSWORD } }), 403, 'permission_denied');
    });
  });
});

describe('GET /api/audit/?mine=true', () => {
  it('a superuser sees everyone\'s events without it, and with it only their own, by the rule a user\'s log follows', async () => {
    const root = await t.factory.user({ superuser: true });
    const alice = await t.factory.user();
    const bob = await t.factory.user();
    const project = await t.factory.project({ admins: [alice], members: [bob] });
    await t.factory.vm(bob, project.id, { active: false });
    // Done to the superuser by someone else: theirs too.
    expect((await t.http.post(`/api/projects/${project.id}/members/`, { as: alice.session, body: { username: root.username, role: 'member' } })).statusCode).toBe(201);

    const everyone = await events(root.session);
    expect(everyone.some((e) => e.actor === bob.username && e.action === 'vm.create')).toBe(true);
    const mine = await events(root.session, '&mine=true');
    expect(mine.some((e) => e.actor === bob.username)).toBe(false);
    expect(mine.filter((e) => e.actor !== root.username)).toEqual([
      expect.objectContaining({ actor: alice.username, action: 'project.member_add', detail: { username: root.username, role: 'member' } }),
    ]);
    expect(mine.filter((e) => e.action === 'login')).toEqual([expect.objectContaining({ actor: root.username })]);
    // With a filter too; and mine=false is the default.
    expect(await events(root.session, '&mine=true&action=login')).toEqual(mine.filter((e) => e.action === 'login'));
    expect((await events(root.session, '&mine=false')).length).toBe(everyone.length);
  });

  it('a user\'s list is the same with and without it, also through a key; mine takes only true or false', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    await t.factory.volume(user, project.id, { available: false });
    const key = await t.factory.key(user);
    // The key's first use is an event of its own (key.new_ip): made before the lists are compared.
    expect((await t.http.get('/api/auth/me', { as: { key: key.key } })).statusCode).toBe(200);
    const plain = await events(user.session);
    expect(await events(user.session, '&mine=true')).toEqual(plain);
    expect(await events({ key: key.key }, '&mine=true')).toEqual(plain);
    const bad = await t.http.get('/api/audit/?mine=perhaps', { as: user.session });
    expectError(bad, 400, 'invalid');
    expect(Object.keys(bad.data.errors)).toContain('mine');
  });
});

describe('audit event detail (spec §7)', () => {
  it('says the os_action of an action, the name of what was created, and a failure\'s code; a refused create names no object', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user], quota: { vms: 1, volumes: 1 } });
    const vmName = unique('vm');
    const vm = await t.http.post('/api/vms/', { as: user.session, body: { project_id: project.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: vmName } });
    expect(vm.statusCode).toBe(201);
    const id = vm.data.openstack_id as string;
    await t.factory.waitFor(user, `/api/vms/${id}/`, (d) => d.status === 'ACTIVE');
    expect((await t.http.post(`/api/vms/${id}/action/`, { as: user.session, body: { os_action: 'resume' } })).statusCode).toBe(409);
    expect((await t.http.post(`/api/vms/${id}/action/`, { as: user.session, body: { os_action: 'reboot', reboot_type: 'HARD' } })).statusCode).toBe(202);
    // Over the quota: refused, and the event names no VM.
    const refusedName = unique('vm');
    expect((await t.http.post('/api/vms/', { as: user.session, body: { project_id: project.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: refusedName } })).statusCode).toBe(409);
    const volume = await t.factory.volume(user, project.id);
    expect((await t.http.post(`/api/volumes/${volume.openstack_id}/action/`, { as: user.session, body: { os_action: 'detach' } })).statusCode).toBe(409);
    expect((await t.http.post('/api/volumes/', { as: user.session, body: { project_id: project.id, name: 'one too many', storage: 1 } })).statusCode).toBe(409);
    expect((await t.http.post(`/api/volumes/${volume.openstack_id}/action/`, { as: user.session, body: { os_action: 'extend', size: 2 } })).statusCode).toBe(202);
    await t.factory.waitFor(user, `/api/volumes/${volume.openstack_id}/`, (d) => d.status === 'available' && d.storage === 2);
    expect((await t.http.delete(`/api/volumes/${volume.openstack_id}/`, { as: user.session })).statusCode).toBe(202);
    const key = await t.factory.key(user, { name: 'laptop key' });
    expect((await t.http.post('/api/auth/login', { body: { username: user.username, password: 'wrong' } })).statusCode).toBe(401);

    const log = await events(user.session);
    const of = (action: string) => log.filter((e) => e.action === action).reverse(); // oldest first
    expect(of('vm.create')).toEqual([
      expect.objectContaining({ object_id: id, outcome: 'success', detail: { name: vmName } }),
      expect.objectContaining({ object_id: null, outcome: 'failure', detail: { name: refusedName, code: 'quota_exceeded' } }),
    ]);
    expect(of('vm.action')).toEqual([
      expect.objectContaining({ object_id: id, outcome: 'failure', detail: { os_action: 'resume', code: 'invalid_state' } }),
      expect.objectContaining({ object_id: id, outcome: 'success', detail: { os_action: 'reboot', reboot_type: 'HARD' } }),
    ]);
    expect(of('volume.create')).toEqual([
      expect.objectContaining({ object_id: volume.openstack_id, outcome: 'success', detail: { name: volume.name } }),
      expect.objectContaining({ object_id: null, outcome: 'failure', detail: { name: 'one too many', code: 'quota_exceeded' } }),
    ]);
    expect(of('volume.action')).toEqual([
      expect.objectContaining({ outcome: 'failure', detail: { os_action: 'detach', code: 'invalid_state' } }),
      expect.objectContaining({ outcome: 'success', detail: { os_action: 'extend' } }),
    ]);
    expect(of('volume.delete')).toEqual([expect.objectContaining({ object_id: volume.openstack_id, outcome: 'success', detail: null })]);
    expect(of('key.create')).toEqual([expect.objectContaining({ key_prefix: key.prefix, detail: { name: 'laptop key' } })]);
    expect(of('login_failed')).toEqual([expect.objectContaining({ outcome: 'failure', detail: { code: 'not_authenticated' } })]);
    expect(of('login')).toEqual([expect.objectContaining({ detail: null })]);
  });

  it('a refused snapshot and SSH key name no object either', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const vm = await t.factory.vm(user, project.id);
    expect((await t.http.post('/api/snapshots/', { as: user.session, body: { snapshot_instance: vm.openstack_id, snapshot_name: 'Ubuntu-22.04' } })).statusCode).toBe(400);
    const snap = await t.http.post('/api/snapshots/', { as: user.session, body: { snapshot_instance: vm.openstack_id, snapshot_name: 'mine' } });
    expect(snap.statusCode).toBe(202);
    const ssh = await t.http.post('/api/profile/ssh-keys/', { as: user.session, body: { name: 'laptop', generate: true } });
    expect(ssh.statusCode).toBe(201);
    expect((await t.http.post('/api/profile/ssh-keys/', { as: user.session, body: { name: 'again', public_key: ssh.data.public_key } })).statusCode).toBe(400);
    const log = (await events(user.session)).reverse();
    expect(log.filter((e) => e.action === 'snapshot.create')).toEqual([
      expect.objectContaining({ object_id: null, outcome: 'failure', detail: { name: 'Ubuntu-22.04', code: 'invalid' } }),
      expect.objectContaining({ object_id: snap.data.openstack_id, outcome: 'success', detail: { name: 'mine' } }),
    ]);
    expect(log.filter((e) => e.action === 'ssh_key.create')).toEqual([
      expect.objectContaining({ object_id: String(ssh.data.id), outcome: 'success', detail: { name: 'laptop' } }),
      expect.objectContaining({ object_id: null, outcome: 'failure', detail: { name: 'again', code: 'invalid' } }),
    ]);
  });
});

describe('project members', () => {
  let admin: TestUser;
  let member: TestUser;
  let outsider: TestUser;
  let root: TestUser;
  let project: { id: number; name: string };
  beforeAll(async () => {
    [admin, member, outsider, root] = await Promise.all([t.factory.user(), t.factory.user(), t.factory.user(), t.factory.user({ superuser: true })]);
    project = await t.factory.project({ admins: [admin], members: [member] });
  });
  const url = (id = project.id) => `/api/projects/${id}/members/`;
  const members = async (as: As = admin.session) => {
    const res = await t.http.get(url(), { as });
    expect(res.statusCode, res.body).toBe(200);
    return res.data as { username: string; role: string }[];
  };

  it('GET: everyone who reaches the project sees [{username, role}] by username, a key with project:read too; others 404', async () => {
    const expected = [{ username: admin.username, role: 'admin' }, { username: member.username, role: 'member' }].sort((a, b) => (a.username < b.username ? -1 : 1));
    expect(await members(admin.session)).toEqual(expected);
    expect(await members(member.session)).toEqual(expected);
    expect(await members(root.session)).toEqual(expected);
    const key = await t.factory.key(member, { scopes: ['project:read'] });
    expect(await members({ key: key.key })).toEqual(expected);
    expect((await t.http.get(`/api/projects/${project.id}/`, { as: member.session })).data.members).toEqual(expected);
    expectError(await t.http.get(url(), { as: outsider.session }), 404, 'not_found');
    expectError(await t.http.get(url(2_147_483_647), { as: root.session }), 404, 'not_found');
    const noScope = await t.factory.key(member, { scopes: ['vm:read'] });
    expectError(await t.http.get(url(), { as: { key: noScope.key } }), 403, 'insufficient_scope');
  });

  it('POST by the project\'s admin: 201 for a new member (JSON or form), 200 when an existing member\'s role is set', async () => {
    const p = await t.factory.project({ admins: [admin] });
    const [newcomer, other] = [await t.factory.user(), await t.factory.user()];
    const add = await t.http.post(url(p.id), { as: admin.session, body: { username: newcomer.username, role: 'member' } });
    expect(add.statusCode, add.body).toBe(201);
    expect(add.data).toEqual({ username: newcomer.username, role: 'member' });
    expect((await t.http.get(`/api/projects/${p.id}/`, { as: newcomer.session })).data).toMatchObject({ role: 'member' });
    const form = await t.http.post(url(p.id), { as: admin.session, form: true, body: { username: other.username, role: 'admin' } });
    expect(form.statusCode, form.body).toBe(201);
    const promote = await t.http.post(url(p.id), { as: admin.session, body: { username: newcomer.username, role: 'admin' } });
    expect(promote.statusCode).toBe(200);
    expect(promote.data).toEqual({ username: newcomer.username, role: 'admin' });
    expect((await t.http.post(url(p.id), { as: admin.session, body: { username: newcomer.username, role: 'admin' } })).statusCode).toBe(200);
    expect((await t.http.get(`/api/projects/${p.id}/`, { as: newcomer.session })).data).toMatchObject({ role: 'admin' });
    // The new admin manages members in turn.
    expect((await t.http.post(url(p.id), { as: newcomer.session, body: { username: other.username, role: 'member' } })).statusCode).toBe(200);

    // The acts are in the admin's log, and each in the log of the user they concern.
    const log = await events(admin.session, '&action=project.member_add');
    expect(log.map((e) => [e.outcome, e.detail]).reverse()).toEqual([
      ['success', { username: newcomer.username, role: 'member' }],
      ['success', { username: other.username, role: 'admin' }],
      ['success', { username: newcomer.username, role: 'admin' }],
      ['success', { username: newcomer.username, role: 'admin' }],
    ]);
    expect(log[0]).toMatchObject({ actor: admin.username, object_type: 'project', object_id: String(p.id) });
    const theirs = await events(other.session, '&action=project.member_add');
    expect(theirs.map((e) => [e.actor, e.detail])).toEqual([
      [newcomer.username, { username: other.username, role: 'member' }],
      [admin.username, { username: other.username, role: 'admin' }],
    ]);
  });

  it('POST 400 invalid: an unknown user on username (recorded as a failure), a role other than admin or member, missing fields', async () => {
    const ghost = unique('ghost');
    const unknown = await t.http.post(url(), { as: admin.session, body: { username: ghost, role: 'member' } });
    expectError(unknown, 400, 'invalid');
    expect(Object.keys(unknown.data.errors)).toEqual(['username']);
    expect(unknown.data.detail).toContain(ghost);
    for (const [body, field] of [
      [{ username: member.username, role: 'owner' }, 'role'],
      [{ username: member.username }, 'role'],
      [{ role: 'member' }, 'username'],
      [{ username: '', role: 'member' }, 'username'],
      [{ username: member.username, role: 'member', colour: 'red' }, 'colour'],
    ] as const) {
      const res = await t.http.post(url(), { as: admin.session, body });
      expectError(res, 400, 'invalid');
      expect(Object.keys(res.data.errors ?? {})).toContain(field);
    }
    const failed = (await events(admin.session, '&action=project.member_add')).filter((e) => e.outcome === 'failure');
    expect(failed[0]).toMatchObject({ object_id: String(project.id), detail: { username: ghost, role: 'member', code: 'invalid' } });
    expect(await members()).toHaveLength(2);
  });

  it('POST and DELETE: 403 permission_denied for a member who is not admin, 404 for an outsider (whatever the body), a superuser may', async () => {
    const p = await t.factory.project({ admins: [admin], members: [member] });
    const newcomer = await t.factory.user();
    const denied = await t.http.post(url(p.id), { as: member.session, body: { username: newcomer.username, role: 'admin' } });
    expectError(denied, 403, 'permission_denied');
    expectError(await t.http.delete(`${url(p.id)}${admin.username}/`, { as: member.session }), 403, 'permission_denied');
    expectError(await t.http.post(url(p.id), { as: outsider.session, body: { username: newcomer.username, role: 'admin' } }), 404, 'not_found');
    expectError(await t.http.post(url(p.id), { as: outsider.session, body: { nonsense: [1] } }), 404, 'not_found');
    expectError(await t.http.delete(`${url(p.id)}${member.username}/`, { as: outsider.session }), 404, 'not_found');
    expectError(await t.http.post(url(2_147_483_647), { as: root.session, body: { username: newcomer.username, role: 'admin' } }), 404, 'not_found');
    expect((await events(member.session, '&action=project.member_add'))[0]).toMatchObject({ outcome: 'failure', detail: { username: newcomer.username, role: 'admin', code: 'permission_denied' } });
    // A superuser who is no member manages them too.
    expect((await t.http.post(url(p.id), { as: root.session, body: { username: newcomer.username, role: 'member' } })).statusCode).toBe(201);
    expect((await t.http.delete(`${url(p.id)}${newcomer.username}/`, { as: root.session })).statusCode).toBe(204);
    expect((await t.http.get(url(p.id), { as: admin.session })).data.map((m: { username: string }) => m.username)).not.toContain(newcomer.username);
  });

  it('POST and DELETE are for a web session only: 403 session_required for any key, also a superuser\'s; 403 csrf_failed without the token', async () => {
    const key = await t.factory.key(root, { own_objects_only: false });
    for (const as of [{ key: key.key }, { bearer: key.key }]) {
      expectError(await t.http.post(url(), { as, body: { username: outsider.username, role: 'member' } }), 403, 'session_required');
      expectError(await t.http.delete(`${url()}${member.username}/`, { as }), 403, 'session_required');
    }
    expectError(await t.http.post(url(), { body: { username: outsider.username, role: 'member' }, headers: { cookie: admin.session.cookie } }), 403, 'csrf_failed');
    expectError(await t.http.delete(`${url()}${member.username}/`, { headers: { cookie: admin.session.cookie } }), 403, 'csrf_failed');
    expectError(await t.http.delete(`${url()}${member.username}/`), 401, 'not_authenticated');
    expect(await members()).toHaveLength(2);
  });

  it('DELETE 204: the member is gone and no longer reaches the project; their objects stay, theirs, for the admin to see', async () => {
    const p = await t.factory.project({ admins: [admin] });
    const leaver = await t.factory.user();
    expect((await t.http.post(url(p.id), { as: admin.session, body: { username: leaver.username, role: 'member' } })).statusCode).toBe(201);
    const vm = await t.factory.vm(leaver, p.id, { active: false });
    const res = await t.http.delete(`/portal/api/projects/${p.id}/members/${leaver.username}`, { as: admin.session });
    expect(res.statusCode, res.body).toBe(204);
    expect(res.body).toBe('');
    expect((await t.http.get(url(p.id), { as: admin.session })).data).toEqual([{ username: admin.username, role: 'admin' }]);
    expectError(await t.http.get(`/api/projects/${p.id}/`, { as: leaver.session }), 404, 'not_found');
    expectError(await t.http.get(`/api/vms/${vm.openstack_id}/`, { as: leaver.session }), 404, 'not_found');
    expect((await t.http.get(`/api/vms/${vm.openstack_id}/`, { as: admin.session })).data).toMatchObject({ owner: leaver.username });
    // Not a member (any more), or no such user: 404.
    expectError(await t.http.delete(`${url(p.id)}${leaver.username}/`, { as: admin.session }), 404, 'not_found');
    expectError(await t.http.delete(`${url(p.id)}${unique('ghost')}/`, { as: admin.session }), 404, 'not_found');
    expectError(await t.http.delete(`${url(p.id)}${outsider.username}/`, { as: admin.session }), 404, 'not_found');
    // Recorded for both, with the role the member had.
    for (const who of [admin, leaver]) {
      expect(await events(who.session, '&action=project.member_remove')).toEqual([
        expect.objectContaining({ actor: admin.username, object_type: 'project', object_id: String(p.id), outcome: 'success', detail: { username: leaver.username, role: 'member' } }),
      ]);
    }
  });

  it('the project\'s last admin can neither leave nor be demoted (409 invalid_state, also by a superuser); with a second admin they can', async () => {
    const boss = await t.factory.user();
    const p = await t.factory.project({ admins: [boss], members: [member] });
    for (const as of [boss.session, root.session]) {
      const leave = await t.http.delete(`${url(p.id)}${boss.username}/`, { as });
      expectError(leave, 409, 'invalid_state');
      expect(leave.data.detail).toContain('last admin');
      expectError(await t.http.post(url(p.id), { as, body: { username: boss.username, role: 'member' } }), 409, 'invalid_state');
    }
    expect((await t.http.get(`/api/projects/${p.id}/`, { as: boss.session })).data).toMatchObject({ role: 'admin' });
    expect((await events(boss.session, '&action=project.member_remove'))[0]).toMatchObject({ outcome: 'failure', detail: { username: boss.username, role: 'admin', code: 'invalid_state' } });
    expect((await t.http.post(url(p.id), { as: boss.session, body: { username: member.username, role: 'admin' } })).statusCode).toBe(200);
    expect((await t.http.delete(`${url(p.id)}${boss.username}/`, { as: boss.session })).statusCode).toBe(204);
    expect((await t.http.get(url(p.id), { as: member.session })).data).toEqual([{ username: member.username, role: 'admin' }]);
    expectError(await t.http.get(url(p.id), { as: boss.session }), 404, 'not_found');
  });

  it('two admins demoting each other at once leave the project with one', async () => {
    const [a, b] = [await t.factory.user(), await t.factory.user()];
    const p = await t.factory.project({ admins: [a, b] });
    const [ra, rb] = await Promise.all([
      t.http.post(url(p.id), { as: a.session, body: { username: b.username, role: 'member' } }),
      t.http.post(url(p.id), { as: b.session, body: { username: a.username, role: 'member' } }),
    ]);
    const statuses = [ra.statusCode, rb.statusCode].sort();
    // One wins; the other is refused, as last admin (409), or because its caller is no admin now (403).
    expect(statuses[0]).toBe(200);
    expect([403, 409]).toContain(statuses[1]);
    const left = (await t.http.get(url(p.id), { as: root.session })).data as { role: string }[];
    expect(left.filter((m) => m.role === 'admin')).toHaveLength(1);
  });
});
