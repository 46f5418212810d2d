// The audit log (spec §7) and the key acts of issue 7: rotation and leaked-key revocation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';

let t: TestPortal;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

interface AuditEvent {
  at: string;
  actor: string | null;
  key_prefix: string | null;
  action: string;
  object_type: string | null;
  object_id: string | null;
  ip: string | null;
  outcome: string;
}

async function events(user: TestUser, action?: string): Promise<AuditEvent[]> {
  const res = await t.http.get(`/api/audit/?page_size=500${action ? `&action=${action}` : ''}`, { as: user.session });
  expect(res.statusCode).toBe(200);
  return res.data.results;
}

describe('audit log', () => {
  it('records each act once, with actor, key prefix, object, address and outcome', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const key = await t.factory.key(user);
    const as = { key: key.key };
    const vm = await t.http.post('/api/vms/', { as, body: { project_id: project.id, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: 'audited' } });
    expect(vm.statusCode).toBe(201);
    const id = vm.data.openstack_id;
    await t.factory.waitFor(user, `/api/vms/${id}/`, (d) => d.status === 'ACTIVE');
    // A refused act is recorded as a failure.
    expect((await t.http.post(`/api/vms/${id}/action/`, { as, body: { os_action: 'resume' } })).statusCode).toBe(409);
    expect((await t.http.post(`/api/vms/${id}/action/`, { as, body: { os_action: 'stop' } })).statusCode).toBe(202);
    const vol = await t.http.post('/api/volumes/', { as, body: { project_id: project.id, name: 'v', storage: 1 } });
    expect(vol.statusCode).toBe(201);
    await t.factory.waitFor(user, `/api/vms/${id}/`, (d) => d.status === 'SHUTOFF');
    expect((await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: id, snapshot_name: 'snap-1' } })).statusCode).toBe(202);
    await t.factory.waitFor(user, `/api/volumes/${vol.data.openstack_id}/`, (d) => d.status === 'available');
    expect((await t.http.post(`/api/volumes/${vol.data.openstack_id}/action/`, { as, body: { os_action: 'extend', size: 2 } })).statusCode).toBe(202);
    await t.factory.waitFor(user, `/api/volumes/${vol.data.openstack_id}/`, (d) => d.status === 'available' && d.storage === 2);
    expect((await t.http.delete(`/api/volumes/${vol.data.openstack_id}/`, { as })).statusCode).toBe(202);
    expect((await t.http.delete(`/api/vms/${id}/`, { as })).statusCode).toBe(202);

    const log = await events(user);
    const byAction = (a: string) => log.filter((e) => e.action === a);
    expect(byAction('login')).toHaveLength(1);
    expect(byAction('key.create')).toEqual([expect.objectContaining({ actor: user.username, key_prefix: key.prefix, object_type: 'api_key', outcome: 'success' })]);
    expect(byAction('key.new_ip')).toEqual([expect.objectContaining({ actor: user.username, key_prefix: key.prefix, ip: '127.0.0.1' })]);
    expect(byAction('vm.create')).toEqual([expect.objectContaining({ actor: user.username, key_prefix: key.prefix, object_type: 'vm', object_id: id, ip: '127.0.0.1', outcome: 'success' })]);
    expect(byAction('vm.action').map((e) => e.outcome).sort()).toEqual(['failure', 'success']);
    expect(byAction('vm.delete')).toEqual([expect.objectContaining({ object_id: id, outcome: 'success' })]);
    expect(byAction('volume.create')).toHaveLength(1);
    expect(byAction('volume.action')).toEqual([expect.objectContaining({ object_id: vol.data.openstack_id, outcome: 'success' })]);
    expect(byAction('volume.delete')).toHaveLength(1);
    expect(byAction('snapshot.create')).toEqual([expect.objectContaining({ object_type: 'snapshot', outcome: 'success' })]);
    // Newest first, and the action filter is an exact match.
    expect(log[0].action).toBe('vm.delete');
    expect((await events(user, 'vm.create')).map((e) => e.object_id)).toEqual([id]);
    expect(await events(user, 'vm')).toEqual([]);
  });

  it('records logins, failed logins and logouts', async () => {
    const user = await t.factory.user();
    expect((await t.http.post('/api/auth/login', { body: { username: user.username, password: 'wrong' } })).statusCode).toBe(401);
    const second = await t.factory.login(user.username);
    expect((await t.http.post('/api/auth/logout', { as: second })).statusCode).toBe(204);
    expect((await t.http.get('/api/auth/me', { as: second })).statusCode).toBe(401);
    const log = await events(user);
    expect(log.filter((e) => e.action === 'login')).toHaveLength(2);
    expect(log.filter((e) => e.action === 'login_failed')).toEqual([expect.objectContaining({ actor: user.username, outcome: 'failure' })]);
    expect(log.filter((e) => e.action === 'logout')).toHaveLength(1);
  });

  it('shows a superuser everything and others only their own', async () => {
    const alice = await t.factory.user();
    const bob = await t.factory.user();
    const root = await t.factory.user({ superuser: true });
    const project = await t.factory.project({ members: [alice] });
    await t.factory.vm(alice, project.id, { active: false });
    expect((await events(bob)).some((e) => e.actor === alice.username)).toBe(false);
    expect((await events(root, 'vm.create')).some((e) => e.actor === alice.username)).toBe(true);
    // Audit is readable with any key, whatever its scopes.
    const key = await t.factory.key(bob, { scopes: ['volume:read'] });
    const res = await t.http.get('/api/audit/', { as: { key: key.key } });
    expect(res.statusCode).toBe(200);
    expect(res.data.results.every((e: AuditEvent) => e.actor === bob.username)).toBe(true);
  });
});

describe('key rotation', () => {
  it('without overlap: the new key works, the old one is dead at once', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const old = await t.factory.key(user, { scopes: ['vm:read', 'project:read'], own_objects_only: false, project_id: project.id });
    const res = await t.http.post(`/api/keys/${old.id}/rotate/`, { as: user.session });
    expect(res.statusCode).toBe(201);
    expect(res.data).toMatchObject({ scopes: ['vm:read', 'project:read'], own_objects_only: false, project_id: project.id });
    expect(res.data.key).toMatch(/^svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{38}$/);
    expect((await t.http.get('/api/vms/', { as: { key: old.key } })).statusCode).toBe(401);
    expect((await t.http.get('/api/vms/', { as: { key: res.data.key } })).statusCode).toBe(200);
    const listed = (await t.http.get('/api/keys/', { as: user.session })).data;
    expect(listed.map((k: { id: number }) => k.id)).toEqual([res.data.id]);
    expect((await events(user, 'key.rotate'))).toEqual([expect.objectContaining({ key_prefix: old.prefix })]);
  });

  it('with overlap: both keys work until the overlap ends', async () => {
    const user = await t.factory.user();
    const old = await t.factory.key(user);
    const res = await t.http.post(`/api/keys/${old.id}/rotate/`, { as: user.session, body: { overlap_hours: 2 }, form: true });
    expect(res.statusCode).toBe(201);
    expect((await t.http.get('/api/auth/me', { as: { key: old.key } })).statusCode).toBe(200);
    expect((await t.http.get('/api/auth/me', { as: { key: res.data.key } })).statusCode).toBe(200);
    const oldRow = (await t.http.get('/api/keys/', { as: user.session })).data.find((k: { id: number }) => k.id === old.id);
    const hours = (Date.parse(oldRow.expires_at) - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);
    // Once the overlap has passed, the old key is refused.
    await t.ctx.db.kysely.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', old.id).execute();
    await t.ctx.db.settleKeyChanges(); // heard by every instance that keeps keys in memory (PostgreSQL)
    expect((await t.http.get('/api/auth/me', { as: { key: old.key } })).statusCode).toBe(401);
    expect((await t.http.post(`/api/keys/${old.id}/rotate/`, { as: user.session, body: { overlap_hours: 169 } })).statusCode).toBe(400);
  });

  it('is session-only and answers 404 for another user\'s key', async () => {
    const user = await t.factory.user();
    const other = await t.factory.user();
    const key = await t.factory.key(user);
    expect((await t.http.post(`/api/keys/${key.id}/rotate/`, { as: { key: key.key } })).data.code).toBe('session_required');
    expect((await t.http.post(`/api/keys/${key.id}/rotate/`, { as: other.session })).statusCode).toBe(404);
  });
});

describe('leaked-key revocation', () => {
  it('lets a stranger revoke a live key; the owner sees it in the audit log', async () => {
    const user = await t.factory.user();
    const key = await t.factory.key(user);
    expect((await t.http.get('/api/auth/me', { as: { key: key.key } })).statusCode).toBe(200);
    const res = await t.http.post('/api/keys/revoke/', { body: { key: key.key } });
    expect(res.statusCode).toBe(202);
    expect((await t.http.get('/api/auth/me', { as: { key: key.key } })).statusCode).toBe(401);
    expect(await events(user, 'key.revoke_leaked')).toEqual([expect.objectContaining({ actor: null, key_prefix: key.prefix, outcome: 'success' })]);
    // The same body again, unknown keys, garbage and other formats: 202, and nothing echoed.
    for (const body of [{ key: key.key }, { key: 'svm_x' }, { nope: 1 }, []]) {
      const again = await t.http.post('/api/keys/revoke/', { body });
      expect(again.statusCode).toBe(202);
      expect(again.body).not.toContain('svm_');
    }
    expect((await t.http.post('/api/keys/revoke/', { body: { key: 'x' }, form: true })).statusCode).toBe(202);
    expect((await t.http.post('/api/keys/revoke/', { body: '{not json', headers: { 'content-type': 'application/json' } })).statusCode).toBe(202);
    expect((await t.http.post('/api/keys/revoke/')).statusCode).toBe(202);
  });

  it('revokes a key sent as a form field too', async () => {
    const user = await t.factory.user();
    const key = await t.factory.key(user);
    expect((await t.http.post('/api/keys/revoke/', { body: { key: key.key }, form: true })).statusCode).toBe(202);
    expect((await t.http.get('/api/auth/me', { as: { key: key.key } })).statusCode).toBe(401);
  });
});
